"""Routes: an instructor's due-date extensions per exercise (list, grant by learner email,
revoke). Every route requires an instructor (learners get 403 before any lookup), every form
is CSRF-protected, and an extension id is checked against the exercise in the URL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from servelab.accounts import users as accounts
from servelab.content.exercise import Exercise
from servelab.db.models import User
from servelab.grading import due_dates
from servelab.web.deps import CsrfProtected, InstructorUser, RowId, SessionDep, instructor_router
from servelab.web.lookups import ExerciseDep
from servelab.web.templating import render

router = instructor_router("/instructor/exercises")

MAX_EMAIL_CHARS = 254
# What <input type="datetime-local"> sends ("2026-03-01T23:59", seconds optional), read as UTC.
DUE_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def parse_due(text: str) -> datetime | None:
    """A form's due date as aware UTC, or None when it is not one."""
    text = text.strip()[:40]
    for layout in DUE_FORMATS:
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _page(
    request: Request,
    db: Session,
    *,
    slug: str,
    exercise: Exercise,
    user: User,
    error: str | None = None,
    sent_email: str = "",
    sent_due: str = "",
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "instructor/extensions.html",
        {
            "slug": slug,
            "exercise": exercise,
            "rows": due_dates.list_extensions(db, exercise_slug=slug),
            "error": error,
            "notice": notice,
            "sent_email": sent_email,
            # A sensible first value for the form: the exercise's own due date.
            "sent_due": sent_due
            or (exercise.due.strftime("%Y-%m-%dT%H:%M") if exercise.due else ""),
            "max_email_chars": MAX_EMAIL_CHARS,
        },
        user=user,
        status_code=status_code,
    )


@router.get("/{slug}/extensions")
def extensions_page(
    request: Request,
    slug: str,
    exercise: ExerciseDep,
    user: InstructorUser,
    db: SessionDep,
    done: str | None = None,
) -> Response:
    notice = {"granted": "Extension saved.", "revoked": "Extension revoked."}.get(done or "")
    return _page(request, db, slug=slug, exercise=exercise, user=user, notice=notice)


@router.post("/{slug}/extensions", dependencies=[CsrfProtected])
def grant(
    request: Request,
    slug: str,
    exercise: ExerciseDep,
    user: InstructorUser,
    db: SessionDep,
    email: Annotated[str, Form()] = "",
    due_at: Annotated[str, Form()] = "",
) -> Response:
    email, due_text = email.strip()[: MAX_EMAIL_CHARS + 1], due_at.strip()[:40]

    def refuse(message: str, code: int) -> Response:
        return _page(
            request,
            db,
            slug=slug,
            exercise=exercise,
            user=user,
            error=message,
            sent_email=email[:MAX_EMAIL_CHARS],
            sent_due=due_text,
            status_code=code,
        )

    if not email or len(email) > MAX_EMAIL_CHARS:
        return refuse("Enter the learner's email address (the one they log in with).", 400)
    learner = accounts.get_user_by_email(db, email=email)
    if learner is None:
        return refuse(
            f"No account uses the email '{email}'. Check the spelling, or ask the learner "
            "to sign up first.",
            404,
        )
    due = parse_due(due_text)
    if due is None:
        return refuse(
            "Enter the new due date as a date and time (UTC), like 2026-03-01T23:59.", 400
        )
    try:
        due_dates.grant_extension(
            db, exercise, exercise_slug=slug, learner=learner, due_at=due, by=user
        )
    except due_dates.ExtensionRefused as exc:
        return refuse(exc.message, exc.status_code)
    return RedirectResponse(
        f"/instructor/exercises/{slug}/extensions?done=granted",
        status_code=status.HTTP_303_SEE_OTHER,
    )


@router.post("/{slug}/extensions/{extension_id}/revoke", dependencies=[CsrfProtected])
def revoke(
    slug: str, extension_id: RowId, _exercise: ExerciseDep, user: InstructorUser, db: SessionDep
) -> Response:
    if not due_dates.revoke_extension(db, exercise_slug=slug, extension_id=extension_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"There is no extension {extension_id} for '{slug}'."
        )
    return RedirectResponse(
        f"/instructor/exercises/{slug}/extensions?done=revoked",
        status_code=status.HTTP_303_SEE_OTHER,
    )
