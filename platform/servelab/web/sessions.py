"""Browser logins on the web side: the cookies a login sets and the login throttle's view
of a request (which account, from which address, from a browser seen before or not)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from servelab.accounts import users as accounts
from servelab.accounts.devices import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_DAYS,
    issue_device_cookie,
    known_device,
)
from servelab.accounts.throttle import (
    CounterFactory,
    LoginAttempt,
    LoginThrottle,
    Pause,
    PauseReason,
)
from servelab.settings import Settings
from servelab.web.deps import CSRF_COOKIE, SESSION_COOKIE


def get_login_throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle


LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


def login_throttle(settings: Settings, counters: CounterFactory | None = None) -> LoginThrottle:
    """The throttle of settings' limits; its windows in memory unless `counters` says where."""
    return LoginThrottle(
        max_failures=settings.login_max_failures,
        max_failures_per_address=settings.login_max_failures_per_address,
        max_failures_per_account=settings.login_max_failures_per_account,
        window_seconds=settings.login_window_seconds,
        counters=counters,
    )


def login_attempt(request: Request, settings: Settings, *, email: str) -> LoginAttempt:
    """The throttle's key for this request: account, client address, known browser."""
    account = accounts.normalize_email(email)[:254]
    address = request.client.host if request.client else "unknown"
    device = known_device(settings.secret_key, request.cookies.get(DEVICE_COOKIE), account=account)
    return LoginAttempt(account=account, address=address, device=device)


_PAUSED = {
    PauseReason.DEVICE: "Too many failed logins from this browser.",
    PauseReason.PAIR: "Too many failed logins to this account from your address. Logins to "
    "it from here are paused; a browser you have logged in with before still works.",
    PauseReason.ADDRESS: "Too many failed logins from your address. Logins from it are "
    "paused; a browser you have logged in with before still works.",
    PauseReason.ACCOUNT: "Too many failed logins to this account from browsers it has not "
    "been used on. To protect it, logins from new browsers are paused; a browser you have "
    "logged in with before still works.",
}


def paused_message(pause: Pause) -> str:
    minutes = -(-pause.retry_after // 60)
    return f"{_PAUSED[pause.reason]} Try again in {minutes} minute(s)."


def set_login_cookies(
    response: Response, settings: Settings, *, token: str, account: str
) -> Response:
    """After a login: the session cookie, a fresh anonymous CSRF cookie (so the token of
    the logged-out page is dead), and the device cookie that makes this browser known."""
    day = 24 * 3600
    _cookie(response, settings, SESSION_COOKIE, token, max_age=settings.session_days * day)
    _cookie(response, settings, CSRF_COOKIE, secrets.token_urlsafe(32))
    device = issue_device_cookie(settings.secret_key, account=account)
    _cookie(response, settings, DEVICE_COOKIE, device, max_age=DEVICE_COOKIE_DAYS * day)
    return response


def _cookie(
    response: Response, settings: Settings, name: str, value: str, *, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.https,
        path="/",
    )
