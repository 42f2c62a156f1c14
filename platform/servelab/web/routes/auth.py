"""Routes: sign up, log in, log out, and instructors managing accounts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import BaseModel
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
LOGIN_PAGE, SIGNUP_PAGE = "auth/login.html", "auth/signup.html"
WRONG_LOGIN = "The email or the password is not right."


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


class LoginForm(BaseModel):
    email: str = ""
    password: str = ""
    next: str = "/"


class SignupForm(LoginForm):
    display_name: str = ""


def _auth_page(
    request: Request,
    template: str,
    sent: LoginForm | None = None,
    *,
    user: User | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    """The login or sign-up form; after a refusal filled in again (never the password)."""
    form = {"email": sent.email[:254]} if sent else {}
    if isinstance(sent, SignupForm):
        form["display_name"] = sent.display_name[:100]
    context = {"next": safe_next(sent.next if sent else "/"), "form": form, "error": error}
    return render(request, template, context, user=user, status_code=status_code)


@router.get("/signup")
@router.get("/login")
def auth_form(request: Request, user: OptionalUser, next: str = "/") -> Response:
    """The empty sign-up or login form."""
    page = SIGNUP_PAGE if request.url.path == "/signup" else LOGIN_PAGE
    return _auth_page(request, page, LoginForm(next=next), user=user)


@router.post("/signup", dependencies=[CsrfProtected])
async def signup(
    request: Request,
    sent: Annotated[SignupForm, Form()],
    db: SessionDep,
    settings: SettingsDep,
    gate: PasswordGateDep,
) -> Response:
    try:
        user = await gate.run(
            lambda: accounts.create_user(
                db,
                email=sent.email,
                password=sent.password,
                display_name=sent.display_name,
                role=Role.LEARNER,
            )
        )
    except accounts.AccountError as exc:
        return _auth_page(request, SIGNUP_PAGE, sent, error=str(exc), status_code=400)
    return await run_in_threadpool(_start, db, settings, user, sent.next, account=user.email)


@router.post("/login", dependencies=[CsrfProtected])
async def login(
    request: Request,
    sent: Annotated[LoginForm, Form()],
    throttle: LoginThrottleDep,
    gate: PasswordGateDep,
    db: SessionDep,
    settings: SettingsDep,
) -> Response:
    attempt = login_attempt(request, settings, email=sent.email)
    # Before any hashing: a paused guess costs nothing.
    pause = await run_in_threadpool(throttle.pause, attempt)
    if pause is not None:
        response = _auth_page(
            request, LOGIN_PAGE, sent, error=paused_message(pause), status_code=429
        )
        response.headers["Retry-After"] = str(pause.retry_after)
        return response
    user = await gate.run(
        lambda: accounts.authenticate(db, email=sent.email, password=sent.password)
    )
    if user is None:
        await run_in_threadpool(throttle.failed, attempt)
        return _auth_page(request, LOGIN_PAGE, sent, error=WRONG_LOGIN, status_code=400)
    await run_in_threadpool(throttle.succeeded, attempt)
    return await run_in_threadpool(_start, db, settings, user, sent.next, account=attempt.account)


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
