"""Security headers on every response (a pure ASGI middleware).

- A strict Content-Security-Policy: scripts, styles, images and connections only from
  ServeLab itself, no inline script or style (templates use files under /static), no
  plugins, no `<base>`, forms post only to ServeLab, and no page may be framed (so the
  one-click forms, log out, revoke a token, regrade, cannot be clickjacked). A response
  that brings its own policy (the API docs page) keeps it.
- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (frame-ancestors for old
  browsers), `Referrer-Policy: same-origin`, and HSTS when ServeLab is served over HTTPS.
- `Cache-Control: no-store` on everything but /static: pages show API tokens, results and
  CSRF tokens, and API answers are personal; nothing of that belongs in a shared cache.
- The exercise page's editor needs one exception, a per-response style nonce for CodeMirror's
  style elements (`content_security_policy(style_nonce=...)`); the route sets that policy.
- A redirect's `Location` is made root-relative when it names the request's own host:
  absolute URLs never come from the (forgeable) Host header.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
STATIC_PREFIX = "/static/"


def content_security_policy(*, style_nonce: str | None = None) -> str:
    """The policy. With `style_nonce`, `<style>` elements carrying that nonce apply too: the
    exercise page's code editor (CodeMirror) writes its theme into style elements and gives
    them the nonce (EditorView.cspNonce). Style attributes and every other style element
    stay blocked, and the nonce is fresh for each (uncached) response."""
    directives = dict(_DIRECTIVES)
    if style_nonce is not None:
        directives["style-src"] += f" 'nonce-{style_nonce}'"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def new_style_nonce() -> str:
    """A fresh nonce for `content_security_policy(style_nonce=...)` (128 bits, base64url)."""
    return secrets.token_urlsafe(16)


CONTENT_SECURITY_POLICY = content_security_policy()


def security_headers(*, https: bool) -> dict[str, str]:
    """The headers every response carries (Cache-Control is decided per path)."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def apply_security_headers(headers: MutableHeaders, *, path: str, host: str, https: bool) -> None:
    """Add the headers to one response; a header the response already set wins."""
    for name, value in security_headers(https=https).items():
        headers.setdefault(name, value)
    if not path.startswith(STATIC_PREFIX):
        headers["Cache-Control"] = "no-store"
    location = headers.get("location")
    if location and host:
        parts = urlsplit(location)
        if parts.netloc and parts.netloc.lower() == host.lower():
            headers["Location"] = parts._replace(scheme="", netloc="").geturl() or "/"


class SecurityHeadersMiddleware:
    """Add `apply_security_headers` to every HTTP response."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        host = Headers(scope=scope).get("host", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                apply_security_headers(headers, path=path, host=host, https=self.https)
            await send(message)

        await self.app(scope, receive, send_with_headers)
