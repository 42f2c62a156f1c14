"""Routes: quiz pages, the quiz JSON API and the instructor's item analysis.

Every attempt id in a URL is looked up together with the asking user and the quiz slug,
so another user's attempt is indistinguishable from a missing one (404).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select
from starlette.responses import Response

from servelab.content import markdown
from servelab.content.quiz import Quiz
from servelab.db.models import User
from servelab.db.models.quiz import AttemptStatus, QuizAnswer, QuizAttempt
from servelab.listing import more_line
from servelab.quiz import attempts as service
from servelab.quiz.export import attempts_csv
from servelab.quiz.review import review
from servelab.quiz.schemas import (
    AttemptPublic,
    AttemptResult,
    AttemptSummary,
    QuestionPublic,
    QuizPublic,
    SubmitAnswers,
)
from servelab.quiz.scoring import InvalidAnswers, normalize_answers
from servelab.quiz.scoring import Response as AnswerResponse
from servelab.quiz.shuffle import presentation
from servelab.quiz.stats import ItemResponse, ScoredAttempt, quiz_stats
from servelab.quiz.svg import band_labels, histogram_svg
from servelab.web.deps import CsrfProtected, CurrentUser, InstructorUser, RowId, SessionDep
from servelab.web.templating import render

router = APIRouter()
FORM_PREFIX = "q."


def _quiz(request: Request, slug: str) -> Quiz:
    quiz = request.app.state.course.quizzes.get(slug)
    if quiz is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"There is no quiz for '{slug}'. Pick a lesson from the course index.",
        )
    return quiz


def _attempt(db: Session, user: User, slug: str, attempt_id: int) -> QuizAttempt:
    attempt = service.get_attempt(db, user_id=user.id or 0, slug=slug, attempt_id=attempt_id)
    if attempt is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such attempt on your account.")
    return attempt


def _invalid(exc: InvalidAnswers) -> HTTPException:
    """422 listing at most `listing.MAX_LISTED` problems; a last item says how many more."""
    shown = [{"question_id": p.question_id, "message": p.message} for p in exc.shown]
    if exc.left_out:
        shown.append({"question_id": "", "message": more_line(exc.left_out)})
    return HTTPException(422, shown)


def _invalid_text(exc: InvalidAnswers) -> str:
    problems = "; ".join(f"question {p.question_id!r}: {p.message}" for p in exc.shown)
    if exc.left_out:
        problems += f"; {more_line(exc.left_out)}"
    return (
        f"These answers do not belong to this quiz ({problems}). Reload the quiz and answer again."
    )


def _section_titles(request: Request, slug: str) -> dict[str, str]:
    """Lesson anchor -> heading text, so feedback links read "Leakage", not "leakage"."""
    lesson = request.app.state.course.lessons.get(slug)
    titles: dict[str, str] = {}
    for section in lesson.sections.values() if lesson else ():
        titles[section.id] = section.title
        titles.update(dict(section.topics))
    return titles


def _render_helpers() -> dict[str, Any]:
    return {
        "md": markdown.render,
        "md_inline": markdown.render_inline,
        "highlight": markdown.highlight_inline,
    }


def _result_items(
    db: Session, quiz: Quiz, slug: str, attempt: QuizAttempt, revealed: bool
) -> list[Any]:
    return review(
        quiz,
        slug,
        seed=attempt.seed,
        responses=service.stored_responses(db, attempt),
        scores=service.stored_scores(db, attempt),
        revealed=revealed,
    )


# --- pages -----------------------------------------------------------------------------


def _overview(
    request: Request,
    db: Session,
    user: User,
    slug: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    quiz = _quiz(request, slug)
    history = service.list_attempts(db, user_id=user.id or 0, slug=slug)
    open_attempt = next((a for a in history if a.state == AttemptStatus.OPEN), None)
    return render(
        request,
        "quiz/overview.html",
        {
            "slug": slug,
            "quiz": quiz,
            "history": history,
            "open_attempt": open_attempt,
            "attempts_left": service.attempts_left(quiz, history),
            "error": error,
            **_render_helpers(),
        },
        user=user,
        status_code=status_code,
    )


@router.get("/quizzes/{slug}", include_in_schema=False)
def quiz_page(request: Request, slug: str, db: SessionDep, user: CurrentUser) -> Response:
    return _overview(request, db, user, slug)


@router.post("/quizzes/{slug}/attempts", include_in_schema=False, dependencies=[CsrfProtected])
def start_page(request: Request, slug: str, db: SessionDep, user: CurrentUser) -> Response:
    quiz = _quiz(request, slug)
    try:
        attempt, _ = service.start_or_continue(db, quiz=quiz, slug=slug, user_id=user.id or 0)
    except service.AttemptRefused as exc:
        return _overview(request, db, user, slug, error=exc.message, status_code=409)
    return RedirectResponse(
        f"/quizzes/{slug}/attempts/{attempt.id}", status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/quizzes/{slug}/attempts/{attempt_id}", include_in_schema=False)
def attempt_page(
    request: Request, slug: str, attempt_id: RowId, db: SessionDep, user: CurrentUser
) -> Response:
    quiz = _quiz(request, slug)
    attempt = _attempt(db, user, slug, attempt_id)
    context: dict[str, Any] = {"slug": slug, "quiz": quiz, "attempt": attempt, **_render_helpers()}
    if attempt.state == AttemptStatus.OPEN:
        context["items"] = presentation(quiz, attempt.seed)
        return render(request, "quiz/take.html", context, user=user)
    history = service.list_attempts(db, user_id=user.id or 0, slug=slug)
    revealed = service.answers_revealed(quiz, history)
    context.update(
        items=_result_items(db, quiz, slug, attempt, revealed),
        section_titles=_section_titles(request, slug),
        revealed=revealed,
        history=history,
        attempts_left=service.attempts_left(quiz, history),
    )
    return render(request, "quiz/result.html", context, user=user)


def _form_answers(form: Any) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key.startswith(FORM_PREFIX) and isinstance(value, str):
            answers.setdefault(key[len(FORM_PREFIX) :], []).append(value)
    return answers


@router.post(
    "/quizzes/{slug}/attempts/{attempt_id}",
    include_in_schema=False,
    dependencies=[CsrfProtected],
)
async def submit_page(
    request: Request, slug: str, attempt_id: RowId, db: SessionDep, user: CurrentUser
) -> Response:
    quiz = _quiz(request, slug)
    attempt = _attempt(db, user, slug, attempt_id)
    raw: Mapping[str, Any] = _form_answers(await request.form())
    try:
        responses = normalize_answers(quiz, raw)
    except InvalidAnswers as exc:
        raise HTTPException(422, _invalid_text(exc)) from exc
    try:
        service.submit(db, quiz=quiz, attempt=attempt, responses=responses)
    except service.AttemptClosed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc
    return RedirectResponse(
        f"/quizzes/{slug}/attempts/{attempt.id}", status_code=status.HTTP_303_SEE_OTHER
    )


# --- JSON API --------------------------------------------------------------------------

_API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not logged in and no API token sent."},
    404: {"description": "No such quiz, or no such attempt on your account."},
}


@router.get(
    "/api/quizzes/{slug}", response_model=QuizPublic, tags=["quizzes"], responses=_API_ERRORS
)
def api_quiz(request: Request, slug: str, user: CurrentUser) -> QuizPublic:
    """The quiz's settings and questions, never with answers, explanations or feedback."""
    return QuizPublic.build(slug, _quiz(request, slug))


@router.get(
    "/api/quizzes/{slug}/attempts",
    response_model=list[AttemptSummary],
    tags=["quizzes"],
    responses=_API_ERRORS,
)
def api_attempts(
    request: Request, slug: str, db: SessionDep, user: CurrentUser
) -> list[AttemptSummary]:
    """Your attempts at this quiz, oldest first."""
    _quiz(request, slug)
    return [
        AttemptSummary.build(a) for a in service.list_attempts(db, user_id=user.id or 0, slug=slug)
    ]


def _attempt_public(slug: str, quiz: Quiz, attempt: QuizAttempt) -> AttemptPublic:
    return AttemptPublic(
        **AttemptSummary.build(attempt).model_dump(),
        questions=[QuestionPublic.build(slug, p) for p in presentation(quiz, attempt.seed)],
    )


@router.post(
    "/api/quizzes/{slug}/attempts",
    response_model=AttemptPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["quizzes"],
    dependencies=[CsrfProtected],
    responses={
        **_API_ERRORS,
        200: {"description": "Your open attempt, continued.", "model": AttemptPublic},
        409: {"description": "No attempts left."},
    },
)
def api_start(
    request: Request, response: Response, slug: str, db: SessionDep, user: CurrentUser
) -> AttemptPublic:
    """Start an attempt, or continue the open one (200). Questions come in this attempt's order."""
    quiz = _quiz(request, slug)
    try:
        attempt, created = service.start_or_continue(db, quiz=quiz, slug=slug, user_id=user.id or 0)
    except service.AttemptRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return _attempt_public(slug, quiz, attempt)


@router.get(
    "/api/quizzes/{slug}/attempts/{attempt_id}",
    response_model=AttemptPublic,
    tags=["quizzes"],
    responses=_API_ERRORS,
)
def api_attempt(
    request: Request, slug: str, attempt_id: RowId, db: SessionDep, user: CurrentUser
) -> AttemptPublic:
    """One of your attempts with its questions, in the order it shows them."""
    quiz = _quiz(request, slug)
    return _attempt_public(slug, quiz, _attempt(db, user, slug, attempt_id))


def _api_result(
    db: Session, quiz: Quiz, slug: str, attempt: QuizAttempt, user: User
) -> AttemptResult:
    history = service.list_attempts(db, user_id=user.id or 0, slug=slug)
    revealed = service.answers_revealed(quiz, history)
    items = _result_items(db, quiz, slug, attempt, revealed)
    return AttemptResult.from_review(attempt, items, revealed)


@router.post(
    "/api/quizzes/{slug}/attempts/{attempt_id}/submit",
    response_model=AttemptResult,
    tags=["quizzes"],
    dependencies=[CsrfProtected],
    responses={
        **_API_ERRORS,
        409: {"description": "The attempt is closed (already submitted differently, or expired)."},
        422: {"description": "An unknown question id, option id or an answer of the wrong shape."},
    },
)
def api_submit(
    request: Request,
    slug: str,
    attempt_id: RowId,
    body: SubmitAnswers,
    db: SessionDep,
    user: CurrentUser,
) -> AttemptResult:
    """Submit answers and get the result. Sending the same answers again is harmless."""
    quiz = _quiz(request, slug)
    attempt = _attempt(db, user, slug, attempt_id)
    try:
        responses: dict[str, AnswerResponse] = normalize_answers(quiz, body.answers)
    except InvalidAnswers as exc:
        raise _invalid(exc) from exc
    try:
        outcome = service.submit(db, quiz=quiz, attempt=attempt, responses=responses)
    except service.AttemptClosed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc
    return _api_result(db, quiz, slug, outcome.attempt, user)


@router.get(
    "/api/quizzes/{slug}/attempts/{attempt_id}/result",
    response_model=AttemptResult,
    tags=["quizzes"],
    responses={**_API_ERRORS, 409: {"description": "The attempt has not been submitted."}},
)
def api_result(
    request: Request, slug: str, attempt_id: RowId, db: SessionDep, user: CurrentUser
) -> AttemptResult:
    """The score, per-question correctness and, as the quiz allows, answers and explanations."""
    quiz = _quiz(request, slug)
    attempt = _attempt(db, user, slug, attempt_id)
    if attempt.state == AttemptStatus.OPEN:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This attempt is still open; submit it to see the result."
        )
    return _api_result(db, quiz, slug, attempt, user)


# --- instructor ------------------------------------------------------------------------


def _all_attempts(db: Session, slug: str) -> list[tuple[QuizAttempt, User]]:
    stmt = (
        select(QuizAttempt, User)
        .where(QuizAttempt.quiz_slug == slug, QuizAttempt.user_id == User.id)
        .order_by(col(QuizAttempt.started_at), col(QuizAttempt.id))
    )
    return [(a, u) for a, u in db.exec(stmt)]


def _answers_by_attempt(db: Session, attempt_ids: list[int]) -> dict[int, list[QuizAnswer]]:
    out: dict[int, list[QuizAnswer]] = {}
    if not attempt_ids:
        return out
    stmt = select(QuizAnswer).where(col(QuizAnswer.attempt_id).in_(attempt_ids))
    for answer in db.exec(stmt):
        out.setdefault(answer.attempt_id, []).append(answer)
    return out


def _scored(attempt: QuizAttempt, answers: list[QuizAnswer]) -> ScoredAttempt:
    return ScoredAttempt(
        attempt_id=attempt.id or 0,
        items={
            a.question_id: ItemResponse(a.earned, a.points, json.loads(a.response_json))
            for a in answers
        },
    )


@router.get("/instructor/quizzes", include_in_schema=False)
def instructor_quizzes(request: Request, db: SessionDep, user: InstructorUser) -> Response:
    quizzes = request.app.state.course.quizzes
    counts = {slug: service.count_attempts(db, slug=slug) for slug in quizzes}
    return render(
        request, "instructor/quiz_list.html", {"quizzes": quizzes, "counts": counts}, user=user
    )


@router.get("/instructor/quizzes/{slug}", include_in_schema=False)
def instructor_quiz(request: Request, slug: str, db: SessionDep, user: InstructorUser) -> Response:
    quiz = _quiz(request, slug)
    rows = _all_attempts(db, slug)
    submitted = [(a, u) for a, u in rows if a.state == AttemptStatus.SUBMITTED]
    answers = _answers_by_attempt(db, [a.id or 0 for a, _ in submitted])
    scored_all = [_scored(a, answers.get(a.id or 0, [])) for a, _ in submitted]
    first_ids: dict[int, int] = {}
    for attempt, _ in submitted:
        first_ids.setdefault(attempt.user_id, attempt.id or 0)
    first = [s for s in scored_all if s.attempt_id in first_ids.values()]
    summary = quiz_stats(quiz, scored_all)
    items = quiz_stats(quiz, first)
    return render(
        request,
        "instructor/quiz_stats.html",
        {
            "slug": slug,
            "quiz": quiz,
            "rows": rows,
            "summary": summary,
            "item_stats": items,
            "histogram": histogram_svg(summary.histogram, title=f"Scores: {quiz.title}"),
            "bands": list(zip(band_labels(len(summary.histogram)), summary.histogram, strict=True)),
            "learners": len({a.user_id for a, _ in rows}),
        },
        user=user,
    )


@router.get("/instructor/quizzes/{slug}/attempts.csv", include_in_schema=False)
def instructor_csv(request: Request, slug: str, db: SessionDep, user: InstructorUser) -> Response:
    quiz = _quiz(request, slug)
    rows = _all_attempts(db, slug)
    answers = _answers_by_attempt(db, [a.id or 0 for a, _ in rows])
    return Response(
        attempts_csv(quiz, rows, answers),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-attempts.csv"'},
    )
