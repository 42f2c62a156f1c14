"""FastAPI dependencies, declared once as Annotated aliases and used everywhere.

Authentication: a session cookie (browser) or an `Authorization: Bearer` API token.
CSRF: every state-changing request authenticated by cookie, or anonymous (login and
sign-up), must send a CSRF token in a form field `csrf_token` or an `X-CSRF-Token`
header. A logged-in request's token is its login's own (`WebSession.csrf_token`, new at
every login, shown in every page's forms); an anonymous request echoes the CSRF cookie
(double-submit). So a token from before login, or from another login, is refused.
Bearer-token requests carry no cookie and so are not exposed to CSRF.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.accounts.security import constant_time_equals
from servelab.content.loader import Course
from servelab.db.models import User, WebSession
from servelab.settings import Settings

SESSION_COOKIE = "servelab_session"
CSRF_COOKIE = "servelab_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class GradingPool(Protocol):
    """The app's embedded grading pool, as routes use it (grading/worker.py `WorkerPool`)."""

    def wake(self) -> None: ...


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_course(request: Request) -> Course:
    return request.app.state.course


def get_grading_pool(request: Request) -> GradingPool | None:
    """None when the app runs no embedded pool (separate workers poll the queue instead)."""
    return getattr(request.app.state, "grading_pool", None)


def get_db(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def wake_workers(pool: GradingPool | None) -> None:
    """Tell the embedded grading pool (if the app runs one) that a submission was queued."""
    if pool is not None:
        pool.wake()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine)]
CourseDep = Annotated[Course, Depends(get_course)]
PoolDep = Annotated[GradingPool | None, Depends(get_grading_pool)]
SessionDep = Annotated[Session, Depends(get_db)]

# Primary keys are PostgreSQL `integer`s. An id outside their range names no row, and
# sending it to the database fails (500) instead of finding nothing: every id in a URL is
# a RowId, and the app answers a RowId that fails validation with 404 (web/errors.py).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


@dataclass
class Auth:
    """Who is asking, and how they proved it."""

    user: User | None
    via_token: bool = False
    session_csrf: str | None = None  # the login's CSRF token, for cookie-authenticated requests


def get_auth(request: Request, db: SessionDep) -> Auth:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = accounts.resolve_api_token(db, token=header[7:].strip())
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Invalid API token. Create a new one with `servelab users create --token`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Auth(user=user, via_token=True)
    resolved = session_login(request, db)
    if resolved:
        user, web_session = resolved
        return Auth(user=user, session_csrf=web_session.csrf_token)
    return Auth(user=None)


def session_login(request: Request, db: Session) -> tuple[User, WebSession] | None:
    """The login behind the request's session cookie, or None; the one session lookup (the
    error pages use it too). Its CSRF token goes on request.state for the page's forms."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    resolved = accounts.resolve_web_session(db, token=cookie)
    if resolved:
        request.state.csrf_token = resolved[1].csrf_token
    return resolved


AuthDep = Annotated[Auth, Depends(get_auth)]


class LoginRequired(Exception):
    """Raised for pages (HTML) when nobody is logged in; the app redirects to /login."""


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith(
        "/api/"
    )


def get_optional_user(auth: AuthDep) -> User | None:
    return auth.user


def get_current_user(request: Request, auth: AuthDep) -> User:
    if auth.user is None:
        if _wants_html(request):
            raise LoginRequired()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Log in or send an API token.")
    return auth.user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]


def get_instructor(user: CurrentUser) -> User:
    if not user.is_instructor:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This page is for instructors only.")
    return user


InstructorUser = Annotated[User, Depends(get_instructor)]


def instructor_router(prefix: str) -> APIRouter:
    """A router of instructor pages: the instructor check runs first on each of its routes,
    so a learner gets 403 before any lookup (and learns nothing from a 404)."""
    return APIRouter(prefix=prefix, include_in_schema=False, dependencies=[Depends(get_instructor)])


async def verify_csrf(request: Request, auth: AuthDep) -> None:
    """Refuse a state-changing request whose CSRF token is missing or wrong."""
    if request.method in ("GET", "HEAD", "OPTIONS") or auth.via_token:
        return
    if auth.session_csrf is not None:
        expected = auth.session_csrf
    else:
        expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    if not expected or not sent or not constant_time_equals(expected, sent):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "The form's security token is missing or expired. Reload the page and try again.",
        )


CsrfProtected = Depends(verify_csrf)
