"""Routes: a learner's quiz pages (overview, take an attempt, its result).

Every attempt id in a URL is looked up together with the asking user and the quiz slug
(`OwnAttempt`), so another user's attempt is indistinguishable from a missing one (404).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from servelab.content import markdown
from servelab.content.lesson import Lesson
from servelab.content.quiz import Quiz
from servelab.db.models import User
from servelab.db.models.quiz import AttemptStatus
from servelab.listing import more_line
from servelab.quiz import attempts as service
from servelab.quiz.scoring import InvalidAnswers, normalize_answers
from servelab.quiz.shuffle import presentation
from servelab.web.deps import CourseDep, CsrfProtected, CurrentUser, SessionDep
from servelab.web.lookups import OwnAttempt, QuizDep
from servelab.web.templating import render

router = APIRouter(prefix="/quizzes/{slug}", include_in_schema=False)
FORM_PREFIX = "q."


def _section_titles(lesson: Lesson | None) -> dict[str, str]:
    """Lesson anchor -> heading text, so feedback links read "Leakage", not "leakage"."""
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


def _overview(
    request: Request,
    db: Session,
    user: User,
    slug: str,
    quiz: Quiz,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
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


@router.get("")
def quiz_page(
    request: Request, slug: str, quiz: QuizDep, db: SessionDep, user: CurrentUser
) -> Response:
    return _overview(request, db, user, slug, quiz)


@router.post("/attempts", dependencies=[CsrfProtected])
def start_page(
    request: Request, slug: str, quiz: QuizDep, db: SessionDep, user: CurrentUser
) -> Response:
    try:
        started = service.start_or_continue(db, quiz=quiz, slug=slug, user_id=user.id or 0)
    except service.AttemptRefused as exc:
        return _overview(request, db, user, slug, quiz, error=exc.message, status_code=409)
    page = f"/quizzes/{slug}/attempts/{started[0].id}"
    return RedirectResponse(page, status_code=status.HTTP_303_SEE_OTHER)


@router.get("/attempts/{attempt_id}")
def attempt_page(
    request: Request,
    slug: str,
    quiz: QuizDep,
    attempt: OwnAttempt,
    db: SessionDep,
    user: CurrentUser,
    course: CourseDep,
) -> Response:
    context: dict[str, Any] = {"slug": slug, "quiz": quiz, "attempt": attempt, **_render_helpers()}
    if attempt.state == AttemptStatus.OPEN:
        context["items"] = presentation(quiz, attempt.seed)
        return render(request, "quiz/take.html", context, user=user)
    shown = service.review_attempt(db, quiz=quiz, slug=slug, attempt=attempt)
    context.update(
        items=shown.items,
        section_titles=_section_titles(course.lessons.get(slug)),
        revealed=shown.revealed,
        history=shown.history,
        attempts_left=service.attempts_left(quiz, shown.history),
    )
    return render(request, "quiz/result.html", context, user=user)


def _form_answers(form: FormData) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if key.startswith(FORM_PREFIX) and isinstance(value, str):
            answers.setdefault(key[len(FORM_PREFIX) :], []).append(value)
    return answers


def _invalid_text(exc: InvalidAnswers) -> str:
    problems = "; ".join(f"question {p.question_id!r}: {p.message}" for p in exc.shown)
    if exc.left_out:
        problems += f"; {more_line(exc.left_out)}"
    return (
        f"These answers do not belong to this quiz ({problems}). Reload the quiz and answer again."
    )


@router.post("/attempts/{attempt_id}", dependencies=[CsrfProtected])
async def submit_page(
    request: Request, slug: str, quiz: QuizDep, attempt: OwnAttempt, db: SessionDep
) -> Response:
    try:
        responses = normalize_answers(quiz, _form_answers(await request.form()))
    except InvalidAnswers as exc:
        raise HTTPException(422, _invalid_text(exc)) from exc
    try:
        service.submit(db, quiz=quiz, attempt=attempt, responses=responses)
    except service.AttemptClosed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc
    return RedirectResponse(
        f"/quizzes/{slug}/attempts/{attempt.id}", status_code=status.HTTP_303_SEE_OTHER
    )
