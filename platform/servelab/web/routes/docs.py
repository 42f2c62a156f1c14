"""Route: the interactive API docs (/docs), under a policy of their own.

FastAPI's Swagger UI page loads its script and stylesheet from a CDN and starts them
with an inline script, which the app's CSP forbids. This page allows exactly that: the
two CDN files, the inline script by its SHA-256 hash, requests to ServeLab itself, and
nothing else (no other script, no framing, no forms). ReDoc is not served.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _script_hash(html: str) -> str:
    scripts = _INLINE_SCRIPT.findall(html)
    if len(scripts) != 1:
        raise RuntimeError("Swagger UI's page changed shape: review the /docs policy")
    digest = hashlib.sha256(scripts[0].encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


def _docs_page(openapi_url: str, title: str) -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url=openapi_url, title=f"{title} API")
    html = bytes(page.body).decode()
    cdn = re.findall(r'(?:src|href)="(https://[^"]+)"', html)
    scripts = [url for url in cdn if url.endswith(".js")]
    styles = [url for url in cdn if url.endswith(".css")]
    images = [url for url in cdn if url.endswith((".png", ".ico", ".svg"))]
    policy = "; ".join(
        (
            "default-src 'none'",
            f"script-src {_script_hash(html)} {' '.join(scripts)}",
            f"style-src {' '.join(styles)}",
            f"img-src 'self' data: {' '.join(images)}",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


@router.get("/docs")
def api_docs(request: Request) -> Response:
    """Swagger UI for the JSON API (`/openapi.json`)."""
    return _docs_page(request.app.openapi_url or "/openapi.json", request.app.title)
