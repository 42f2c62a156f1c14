"""Routes: the course index, lesson pages and the account page (API tokens)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse
from sqlmodel import col, select
from starlette.responses import Response

from servelab.accounts import service as accounts
from servelab.content.loader import Course
from servelab.db.models import ApiToken
from servelab.web.deps import CsrfProtected, CurrentUser, OptionalUser, SessionDep
from servelab.web.templating import render

router = APIRouter()


def _course(request: Request) -> Course:
    return request.app.state.course


@router.get("/", include_in_schema=False)
def course_index(request: Request, user: OptionalUser) -> Response:
    course = _course(request)
    return render(
        request,
        "index.html",
        {
            "lessons": course.ordered_lessons(),
            "quizzes": course.quizzes,
            "exercises": course.exercises,
        },
        user=user,
    )


@router.get("/lessons/{slug}", include_in_schema=False)
def lesson_page(request: Request, slug: str, user: OptionalUser) -> Response:
    course = _course(request)
    lesson = course.lessons.get(slug)
    if lesson is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"There is no lesson called '{slug}'. Pick one from the course index.",
        )
    return render(
        request,
        "lesson.html",
        {
            "lesson": lesson,
            "has_quiz": slug in course.quizzes,
            "has_exercise": slug in course.exercises,
        },
        user=user,
    )


def _account_page(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    *,
    new_token: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    tokens = db.exec(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.created_at))
    ).all()
    return render(
        request,
        "account.html",
        {"tokens": tokens, "new_token": new_token, "error": error},
        user=user,
        status_code=status_code,
    )


@router.get("/account", include_in_schema=False)
def account(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return _account_page(request, db, user)


@router.post("/account/tokens", include_in_schema=False, dependencies=[CsrfProtected])
def create_token(
    request: Request, db: SessionDep, user: CurrentUser, name: Annotated[str, Form()] = ""
) -> Response:
    name = name.strip()
    if not name or len(name) > 100:
        return _account_page(
            request,
            db,
            user,
            error="Give the token a name of 1 to 100 characters, like 'laptop'.",
            status_code=400,
        )
    token = accounts.create_api_token(db, user=user, name=name)
    return _account_page(request, db, user, new_token=token)


@router.post(
    "/account/tokens/{token_id}/revoke", include_in_schema=False, dependencies=[CsrfProtected]
)
def revoke_token(db: SessionDep, user: CurrentUser, token_id: int) -> Response:
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such token on your account.")
    db.delete(row)
    db.commit()
    return RedirectResponse("/account", status_code=status.HTTP_303_SEE_OTHER)
