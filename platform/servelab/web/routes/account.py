"""Routes: the account page (API tokens, password change)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.responses import Response

from servelab.accounts import users as accounts
from servelab.db.models import User
from servelab.web.deps import AuthDep, CsrfProtected, CurrentUser, RowId, SessionDep, SettingsDep
from servelab.web.passwords import PasswordGateDep
from servelab.web.sessions import (
    LoginThrottleDep,
    login_attempt,
    paused_message,
    set_login_cookies,
)
from servelab.web.templating import render

router = APIRouter(include_in_schema=False)


def _account_page(
    request: Request, db: Session, user: User, *, status_code: int = 200, **notes: str
) -> Response:
    """The account page; `notes` are its messages (new_token, error, password_error,
    password_notice), each shown where the template puts it."""
    context = {"tokens": accounts.list_api_tokens(db, user=user), **notes}
    return render(request, "account.html", context, user=user, status_code=status_code)


@router.get("/account")
def account(request: Request, db: SessionDep, user: CurrentUser) -> Response:
    return _account_page(request, db, user)


@router.post("/account/tokens", dependencies=[CsrfProtected])
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


@router.post("/account/tokens/{token_id}/revoke", dependencies=[CsrfProtected])
def revoke_token(db: SessionDep, user: CurrentUser, token_id: RowId) -> Response:
    if not accounts.revoke_api_token(db, user=user, token_id=token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such token on your account.")
    return RedirectResponse("/account", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/account/password", dependencies=[CsrfProtected])
async def change_password(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    auth: AuthDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
    gate: PasswordGateDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
) -> Response:
    """Change the password: every other login ends and every API token is revoked; this
    browser stays logged in with a fresh session (and a fresh CSRF token)."""
    if auth.via_token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Change your password in the browser, at /account: it revokes every API token.",
        )

    def refuse(message: str, status_code: int) -> Response:
        return _account_page(request, db, user, password_error=message, status_code=status_code)

    # Guessing the current password from a stolen session counts like failed logins.
    attempt = login_attempt(request, settings, email=user.email)
    pause = await run_in_threadpool(throttle.pause, attempt)
    if pause is not None:
        response = await run_in_threadpool(refuse, paused_message(pause), 429)
        response.headers["Retry-After"] = str(pause.retry_after)
        return response
    try:
        changed = await gate.run(
            lambda: accounts.change_password(
                db,
                user=user,
                current=current_password,
                new=new_password,
                days=settings.session_days,
            )
        )
    except accounts.WrongPassword as exc:
        await run_in_threadpool(throttle.failed, attempt)
        return await run_in_threadpool(refuse, str(exc), 400)
    except accounts.AccountError as exc:
        return await run_in_threadpool(refuse, str(exc), 400)
    await run_in_threadpool(throttle.succeeded, attempt)
    request.state.csrf_token = changed.web_session.csrf_token  # the new login's forms
    notice = (
        f"Your password is changed. {_count(changed.sessions_ended - 1, 'other login')} ended "
        f"and {_count(changed.tokens_revoked, 'API token')} revoked; this browser stays "
        "logged in."
    )
    response = await run_in_threadpool(
        lambda: _account_page(request, db, user, password_notice=notice)
    )
    return set_login_cookies(response, settings, token=changed.token, account=attempt.account)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
