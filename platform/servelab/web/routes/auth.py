"""Routes: sign up, log in, log out, and instructors managing accounts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from servelab.accounts import users as accounts
from servelab.db.models import Role, User
from servelab.settings import Settings
from servelab.web.deps import (
    SESSION_COOKIE,
    CsrfProtected,
    InstructorUser,
    OptionalUser,
    SessionDep,
    SettingsDep,
)
from servelab.web.passwords import PasswordGateDep
from servelab.web.sessions import (
    LoginThrottleDep,
    login_attempt,
    paused_message,
    set_login_cookies,
)
from servelab.web.templating import render

router = APIRouter(include_in_schema=False)

FormStr = Annotated[str, Form()]


def safe_next(value: str | None) -> str:
    """Only a local path may be a redirect target; anything else goes to the course index."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in value):
        return "/"
    return value


def _start(db: Session, settings: Settings, user: User, next_url: str, *, account: str) -> Response:
    token, _ = accounts.start_web_session(db, user=user, days=settings.session_days)
    redirect = RedirectResponse(safe_next(next_url), status_code=status.HTTP_303_SEE_OTHER)
    return set_login_cookies(redirect, settings, token=token, account=account)


@router.get("/signup")
def signup_form(request: Request, user: OptionalUser, next: str = "/") -> Response:
    return render(request, "auth/signup.html", {"next": safe_next(next), "form": {}}, user=user)


@router.post("/signup", dependencies=[CsrfProtected])
async def signup(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    gate: PasswordGateDep,
    email: FormStr = "",
    password: FormStr = "",
    display_name: FormStr = "",
    next: FormStr = "/",
) -> Response:
    try:
        user = await gate.run(
            lambda: accounts.create_user(
                db, email=email, password=password, display_name=display_name, role=Role.LEARNER
            )
        )
    except accounts.AccountError as exc:
        return render(
            request,
            "auth/signup.html",
            {
                "next": safe_next(next),
                "error": str(exc),
                "form": {"email": email[:254], "display_name": display_name[:100]},
            },
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    return await run_in_threadpool(_start, db, settings, user, next, account=user.email)


@router.get("/login")
def login_form(request: Request, user: OptionalUser, next: str = "/") -> Response:
    return render(request, "auth/login.html", {"next": safe_next(next), "form": {}}, user=user)


@router.post("/login", dependencies=[CsrfProtected])
async def login(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
    gate: PasswordGateDep,
    email: FormStr = "",
    password: FormStr = "",
    next: FormStr = "/",
) -> Response:
    attempt = login_attempt(request, settings, email=email)
    form = {"next": safe_next(next), "form": {"email": email[:254]}}
    pause = throttle.pause(attempt)  # before any hashing: a paused guess costs nothing
    if pause is not None:
        response = render(
            request,
            "auth/login.html",
            {**form, "error": paused_message(pause)},
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        )
        response.headers["Retry-After"] = str(pause.retry_after)
        return response
    user = await gate.run(lambda: accounts.authenticate(db, email=email, password=password))
    if user is None:
        throttle.failed(attempt)
        return render(
            request,
            "auth/login.html",
            {**form, "error": "The email or the password is not right."},
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    throttle.succeeded(attempt)
    return await run_in_threadpool(_start, db, settings, user, next, account=attempt.account)


@router.post("/logout", dependencies=[CsrfProtected])
def logout(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_web_session(db, token=token)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.https
    )
    return response


def _users_page(
    request: Request,
    db: SessionDep,
    user: User,
    *,
    error: str | None = None,
    created: User | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    users = accounts.list_users(db)
    return render(
        request,
        "auth/users.html",
        {
            "users": users,
            "error": error,
            "created": created,
            "form": form or {},
            "roles": [r.value for r in Role],
        },
        user=user,
        status_code=status_code,
    )


@router.get("/instructor/users")
def users_page(request: Request, db: SessionDep, user: InstructorUser) -> Response:
    return _users_page(request, db, user)


@router.post("/instructor/users", dependencies=[CsrfProtected])
async def create_account(
    request: Request,
    db: SessionDep,
    user: InstructorUser,
    gate: PasswordGateDep,
    email: FormStr = "",
    password: FormStr = "",
    display_name: FormStr = "",
    role: FormStr = Role.INSTRUCTOR.value,
) -> Response:
    form = {"email": email[:254], "display_name": display_name[:100], "role": role[:20]}
    try:
        created = await gate.run(
            lambda: accounts.create_user(
                db, email=email, password=password, display_name=display_name, role=Role(role)
            )
        )
    except ValueError as exc:  # AccountError, or an unknown role
        message = str(exc) if isinstance(exc, accounts.AccountError) else "Choose a valid role."
        return await run_in_threadpool(
            _users_page, request, db, user, error=message, form=form, status_code=400
        )
    return await run_in_threadpool(_users_page, request, db, user, created=created)
