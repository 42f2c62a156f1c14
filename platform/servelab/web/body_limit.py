"""One request-body limit on every route, enforced before the body is spent.

Every route gets the app's limit unless it declares a larger one with a `BodyLimit`
dependency (the upload routes do). A pure ASGI middleware (no buffering) counts the body
as the app reads it: a declared `Content-Length` over the matched route's limit is refused
at the first read, before a byte is passed on, and a body of undeclared length (chunked)
at the read that passes the limit. A route that does not read its body is refused before
it runs by `refuse_declared_oversize`, an app-wide dependency. The refusal is
`BodyTooLarge`, which the app's error handlers answer as 413 in the usual shape (an HTML
page for browsers, `{"detail": ...}` for the API), and the connection is closed, so the
rest of the body is never read.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException, status
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CLOSE = {"Connection": "close"}
_DEFAULT_KEY = "servelab.body_limit"


def default_refusal(limit: int) -> Callable[[int], str]:
    def refusal(_size: int) -> str:
        return (
            f"The request body is larger than this page accepts ({_human(limit)}). "
            "Shorten what you send and try again."
        )

    return refusal


def _human(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size // 1024} KiB"


class BodyTooLarge(HTTPException):
    """The body read so far passed the route's limit (answered 413, connection closed)."""

    def __init__(self, message: str) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, message, headers=_CLOSE)


class BodyLimit:
    """A route dependency declaring a larger body limit than the app's default.

    It does nothing when the route runs: the middleware reads it from the matched route.
    `refusal(size)` words the 413 (size: the declared length, or the bytes read so far).
    """

    def __init__(self, max_bytes: int, refusal: Callable[[int], str]) -> None:
        self.max_bytes = max_bytes
        self.refusal = refusal

    async def __call__(self) -> None:
        return None


class BodySizeLimitMiddleware:
    """Count request bodies against the route's limit (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.default = BodyLimit(max_bytes, default_refusal(max_bytes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[_DEFAULT_KEY] = self.default
        declared = _declared_length(scope)
        chunked = "chunked" in Headers(scope=scope).get("transfer-encoding", "").lower()
        limit: BodyLimit | None = None  # the matched route's, looked up at the first read
        received = 0
        body_done = False

        async def limited_receive() -> Message:
            nonlocal limit, received, body_done
            if limit is None:
                limit = route_limit(scope)
                if declared is not None and declared > limit.max_bytes:
                    raise BodyTooLarge(limit.refusal(declared))
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    raise BodyTooLarge(limit.refusal(received))
                body_done = not message.get("more_body", False)
            return message

        async def closing_send(message: Message) -> None:
            # A body nobody read to its end (an oversized one, or one a route ignored):
            # close the connection rather than read the rest of it to keep the connection.
            if message["type"] == "http.response.start" and not body_done:
                oversized = (
                    declared is not None and declared > (limit or route_limit(scope)).max_bytes
                )
                if oversized or chunked:
                    MutableHeaders(scope=message)["Connection"] = "close"
            await send(message)

        await self.app(scope, limited_receive, closing_send)


def route_limit(scope: Scope) -> BodyLimit:
    """The `BodyLimit` the matched route declares (the router puts the route in the scope),
    else the app's."""
    route = scope.get("route")
    if isinstance(route, APIRoute):
        for dependency in route.dependant.dependencies:
            if isinstance(dependency.call, BodyLimit):
                return dependency.call
    default = scope.get(_DEFAULT_KEY)
    assert isinstance(default, BodyLimit), "BodySizeLimitMiddleware is not installed"
    return default


async def refuse_declared_oversize(request: Request) -> None:
    """An app-wide dependency: a declared body over the route's limit is refused before
    the route runs, even when the route would not read it."""
    declared = _declared_length(request.scope)
    limit = route_limit(request.scope)
    if declared is not None and declared > limit.max_bytes:
        raise BodyTooLarge(limit.refusal(declared))


def _declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.isascii() and value.isdigit() else None
