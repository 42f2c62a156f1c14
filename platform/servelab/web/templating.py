"""Jinja2 templates with the context every page needs (user, CSRF token, navigation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from servelab.grading.views import output_beyond_feedback
from servelab.web.deps import CSRF_COOKIE
from servelab.web.result_page import glance

TEMPLATES_DIR = Path(__file__).with_name("templates")
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def static_url(path: str) -> str:
    """Root-relative: Starlette's url_for builds absolute URLs from the (forgeable) Host."""
    return f"/static/{path}"


templates.env.globals["static_url"] = static_url
# The result page shows each feedback note once, then only what the output adds to them.
templates.env.globals["output_beyond_feedback"] = output_beyond_feedback
# A result page's charts and check order, from the document it shows (learner's or full).
templates.env.globals["result_glance"] = glance


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    user: Any = None,
) -> Response:
    """Render a page template with the shared context (current user, CSRF token)."""
    ctx = {
        "user": user,
        "csrf_token": request.state.csrf_token,
        "csrf_cookie": CSRF_COOKIE,
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
