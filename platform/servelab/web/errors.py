"""Error responses: an HTML page for browsers, JSON for the API, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from servelab.accounts.security import PasswordHashingBusy
from servelab.db.engine import DATABASE_UNAVAILABLE
from servelab.listing import head, more_line
from servelab.web.deps import _wants_html as wants_html
from servelab.web.deps import session_login
from servelab.web.redis_limits import LimitsUnavailable
from servelab.web.security_headers import apply_security_headers
from servelab.web.templating import render

log = logging.getLogger("servelab.errors")

_TITLES = {
    400: "That request did not make sense",
    401: "Please log in",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    413: "That is more than ServeLab accepts",
    422: "Some of the input is not valid",
    429: "Please wait a moment",
    500: "Something went wrong on our side",
    503: "ServeLab is not ready yet",
}


def _current_user(request: Request) -> Any:
    try:
        with Session(request.app.state.engine) as db:
            resolved = session_login(request, db)  # sets the page's log-out form token
            if resolved:
                db.expunge(resolved[0])
                return resolved[0]
    except Exception:  # an error page must render even when the database is down
        log.exception("could not resolve the session for an error page")
    return None


def error_page(request: Request, status_code: int, message: str) -> Response:
    if not hasattr(request.state, "csrf_token"):
        request.state.csrf_token = ""
    return render(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title": _TITLES.get(status_code, "Something went wrong"),
            "message": message,
        },
        status_code=status_code,
        user=_current_user(request),
    )


def _json_safe_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field, message and type only: echoing the input could contain NaN and break the JSON.

    At most `listing.MAX_LISTED` errors, locations cut short (a sender picks the keys); a last
    item of type `too_many_errors` says how many more there were.
    """
    shown, left_out = head(exc.errors())
    errors = [
        {
            "loc": [str(p)[:80] for p in err.get("loc", ())[:10]],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in shown
    ]
    if left_out:
        errors.append({"loc": [], "msg": more_line(left_out), "type": "too_many_errors"})
    return errors


async def error_response(
    request: Request,
    status_code: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The one error shape: an HTML page for browsers, `{"detail": message}` for the API."""
    if wants_html(request):
        # error_page looks up who is logged in (a database query): not on the event loop.
        response = await run_in_threadpool(error_page, request, status_code, message)
    else:
        response = JSONResponse({"detail": message}, status_code=status_code)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _missing_path_ids(raw: Sequence[Any]) -> str | None:
    """A 404 message when a path parameter (an id) failed validation: the URL names nothing."""
    for err in raw:
        loc = [str(p) for p in err.get("loc", ())]
        if len(loc) == 2 and loc[0] == "path":
            what = loc[1][:40].removesuffix("_id").replace("_", " ")
            value = str(err.get("input", ""))[:40]
            return f"There is no {what} {value}."
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request):
            return await error_response(
                request, exc.status_code, str(exc.detail), headers=exc.headers
            )
        response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = _json_safe_errors(exc)
        missing = _missing_path_ids(exc.errors())
        if missing is not None:
            return await error_response(request, 404, missing)
        if wants_html(request):
            lines = "; ".join(
                f"{'.'.join(e['loc'][1:]) or 'request'}: {e['msg']}" if e["loc"] else e["msg"]
                for e in errors
            )
            message = f"Please check the form and try again ({lines})."
            return await error_response(request, 422, message)
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(LimitsUnavailable)
    async def _limits_unavailable(request: Request, exc: LimitsUnavailable) -> Response:
        log.error("the shared limits store (Redis) does not answer: %s", exc.__cause__)
        retry = {"Retry-After": str(exc.retry_after_seconds)}
        return await error_response(request, 503, exc.message, headers=retry)

    @app.exception_handler(PasswordHashingBusy)
    async def _hashing_busy(request: Request, exc: PasswordHashingBusy) -> Response:
        retry = {"Retry-After": str(exc.retry_after_seconds)}
        return await error_response(request, 503, exc.message, headers=retry)

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, _exc: PoolTimeout) -> Response:
        log.warning("database pool exhausted on %s %s", request.method, request.url.path)
        message = "ServeLab is very busy right now. Try again in a few seconds."
        return await error_response(request, 503, message, headers={"Retry-After": "5"})

    async def _database_unavailable(request: Request, exc: Exception) -> Response:
        # A transaction that fails rolls back whole: whatever the request was writing is
        # not stored, and the page says so.
        log.error(
            "the database does not answer on %s %s: %s", request.method, request.url.path, exc
        )
        message = (
            "ServeLab cannot reach its database right now, so nothing was saved. "
            "Try again in a minute."
        )
        return await error_response(request, 503, message, headers={"Retry-After": "30"})

    for database_error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(database_error, _database_unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "The error has been logged. Please try again in a moment."
        if wants_html(request):
            response = error_page(request, 500, message)
        else:
            response = JSONResponse({"detail": message}, status_code=500)
        # This handler answers outside the app's middleware: add the headers here.
        settings = request.app.state.settings
        host = request.headers.get("host", "")
        apply_security_headers(
            response.headers, path=request.url.path, host=host, https=settings.https
        )
        return response
