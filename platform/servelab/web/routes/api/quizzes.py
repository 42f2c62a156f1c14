"""Routes: the quiz JSON API (`/api/v1/quizzes/{slug}/...`), by API token or session.

Every attempt id is looked up with the asking user and the quiz slug (`OwnAttempt`): another
user's attempt is a 404 like a missing one. Answers and explanations show only as the quiz allows.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session
from starlette.responses import Response

from servelab.content.quiz import Quiz
from servelab.db.models.quiz import AttemptStatus, QuizAttempt
from servelab.listing import more_line
from servelab.quiz import attempts as service
from servelab.quiz.schemas import (
    AttemptPublic,
    AttemptResult,
    AttemptSummary,
    QuestionPublic,
    QuizPublic,
    SubmitAnswers,
)
from servelab.quiz.scoring import InvalidAnswers, normalize_answers
from servelab.quiz.shuffle import presentation
from servelab.web.api_schemas import API_PREFIX, FieldError, error_responses
from servelab.web.deps import CsrfProtected, CurrentUser, SessionDep
from servelab.web.lookups import OwnAttempt, QuizDep

router = APIRouter(prefix=f"{API_PREFIX}/quizzes/{{slug}}", tags=["quizzes"])
_404 = "No such quiz, or no such attempt on your account."


def _invalid(exc: InvalidAnswers) -> HTTPException:
    """422 in the shape of every 422 (api_schemas.ValidationErrorBody), at most
    `listing.MAX_LISTED` problems; a last item says how many more."""
    problems = [
        FieldError(loc=["body", "answers", p.question_id], msg=p.message, type="invalid_answer")
        for p in exc.shown
    ]
    if exc.left_out:
        problems.append(FieldError(loc=[], msg=more_line(exc.left_out), type="too_many_errors"))
    return HTTPException(422, [p.model_dump() for p in problems])


def _attempt_public(slug: str, quiz: Quiz, attempt: QuizAttempt) -> AttemptPublic:
    return AttemptPublic(
        **AttemptSummary.build(attempt).model_dump(),
        questions=[QuestionPublic.build(slug, p) for p in presentation(quiz, attempt.seed)],
    )


def _result(db: Session, quiz: Quiz, slug: str, attempt: QuizAttempt) -> AttemptResult:
    shown = service.review_attempt(db, quiz=quiz, slug=slug, attempt=attempt)
    return AttemptResult.from_review(attempt, shown.items, shown.revealed)


@router.get("", response_model=QuizPublic, responses=error_responses(404, _404=_404))
def quiz(slug: str, quiz: QuizDep, user: CurrentUser) -> QuizPublic:
    """The quiz's settings and questions, never with answers, explanations or feedback."""
    return QuizPublic.build(slug, quiz)


@router.get(
    "/attempts", response_model=list[AttemptSummary], responses=error_responses(404, _404=_404)
)
def attempts(slug: str, _quiz: QuizDep, db: SessionDep, user: CurrentUser) -> list[AttemptSummary]:
    """Your attempts at this quiz, oldest first."""
    return [
        AttemptSummary.build(a) for a in service.list_attempts(db, user_id=user.id or 0, slug=slug)
    ]


@router.post(
    "/attempts",
    response_model=AttemptPublic,
    status_code=status.HTTP_201_CREATED,
    dependencies=[CsrfProtected],
    responses={
        **error_responses(403, 404, 409, _404=_404, _409="No attempts left."),
        200: {"description": "Your open attempt, continued.", "model": AttemptPublic},
    },
)
def start(
    response: Response, slug: str, quiz: QuizDep, db: SessionDep, user: CurrentUser
) -> AttemptPublic:
    """Start an attempt, or continue the open one (200). Questions come in this attempt's order."""
    try:
        attempt, created = service.start_or_continue(db, quiz=quiz, slug=slug, user_id=user.id or 0)
    except service.AttemptRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return _attempt_public(slug, quiz, attempt)


@router.get(
    "/attempts/{attempt_id}",
    response_model=AttemptPublic,
    responses=error_responses(404, _404=_404),
)
def attempt(slug: str, quiz: QuizDep, attempt: OwnAttempt) -> AttemptPublic:
    """One of your attempts with its questions, in the order it shows them."""
    return _attempt_public(slug, quiz, attempt)


@router.post(
    "/attempts/{attempt_id}/submit",
    response_model=AttemptResult,
    dependencies=[CsrfProtected],
    responses=error_responses(
        403,
        404,
        409,
        _404=_404,
        _409="The attempt is closed (already submitted differently, or expired).",
        _422="An unknown question id, option id or an answer of the wrong shape.",
    ),
)
def submit(
    slug: str, quiz: QuizDep, attempt: OwnAttempt, body: SubmitAnswers, db: SessionDep
) -> AttemptResult:
    """Submit answers and get the result. Sending the same answers again is harmless."""
    try:
        responses = normalize_answers(quiz, body.answers)
    except InvalidAnswers as exc:
        raise _invalid(exc) from exc
    try:
        outcome = service.submit(db, quiz=quiz, attempt=attempt, responses=responses)
    except service.AttemptClosed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc
    return _result(db, quiz, slug, outcome.attempt)


@router.get(
    "/attempts/{attempt_id}/result",
    response_model=AttemptResult,
    responses=error_responses(404, 409, _404=_404, _409="The attempt has not been submitted."),
)
def result(slug: str, quiz: QuizDep, attempt: OwnAttempt, db: SessionDep) -> AttemptResult:
    """The score, per-question correctness and, as the quiz allows, answers and explanations."""
    if attempt.state == AttemptStatus.OPEN:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This attempt is still open; submit it to see the result."
        )
    return _result(db, quiz, slug, attempt)
