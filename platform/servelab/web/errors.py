"""Error responses: an HTML page for browsers, JSON for the API, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from servelab.accounts import service as accounts
from servelab.listing import head, more_line
from servelab.web.deps import SESSION_COOKIE
from servelab.web.deps import _wants_html as wants_html
from servelab.web.templating import render

log = logging.getLogger("servelab.errors")

_TITLES = {
    400: "That request did not make sense",
    401: "Please log in",
    403: "You do not have access to this page",
    404: "Page not found",
    405: "That action is not allowed here",
    422: "Some of the input is not valid",
    500: "Something went wrong on our side",
    503: "ServeLab is not ready yet",
}


def _current_user(request: Request) -> Any:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        with Session(request.app.state.engine) as db:
            resolved = accounts.resolve_web_session(db, token=token)
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request):
            response = error_page(request, exc.status_code, str(exc.detail))
        else:
            response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = _json_safe_errors(exc)
        if wants_html(request):
            lines = "; ".join(
                f"{'.'.join(e['loc'][1:]) or 'request'}: {e['msg']}" if e["loc"] else e["msg"]
                for e in errors
            )
            return error_page(request, 422, f"Please check the form and try again ({lines}).")
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        message = "The error has been logged. Please try again in a moment."
        if wants_html(request):
            return error_page(request, 500, message)
        return JSONResponse({"detail": message}, status_code=500)
