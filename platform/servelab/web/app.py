"""The app factory: settings, database, content, middleware and routers."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from servelab.accounts.security import hash_slots
from servelab.content.loader import Course
from servelab.db.engine import make_engine
from servelab.settings import Settings, get_settings
from servelab.web import metrics
from servelab.web.body_limit import BodySizeLimitMiddleware, refuse_declared_oversize
from servelab.web.deps import CSRF_COOKIE, LoginRequired
from servelab.web.errors import install_error_handlers
from servelab.web.passwords import PasswordGate
from servelab.web.redis_limits import RedisStreamSlots, redis_client, redis_counters
from servelab.web.routes import ALL_ROUTERS
from servelab.web.security_headers import SecurityHeadersMiddleware
from servelab.web.sessions import login_throttle
from servelab.web.streams import SLOT_LEASE_SECONDS, MemoryStreamSlots

log = logging.getLogger("servelab.http")
STATIC_DIR = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ServeLab web app. Refuses to start when the course content is invalid."""
    from servelab.content.loader import load_settings_course

    settings = settings or get_settings()
    course = load_settings_course(settings)  # raises ContentErrors: refuse to start

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from servelab.grading.worker import start_embedded_pool

        pool = start_embedded_pool(settings, app.state.engine, course)
        app.state.grading_pool = pool  # routes call .wake() after queueing a submission
        yield
        if pool is not None:  # drain: running jobs finish, the rest stay queued for next start
            await asyncio.to_thread(pool.stop, timeout=60)
        app.state.engine.dispose()

    app = FastAPI(
        title="ServeLab",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py under its own CSP
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        dependencies=[Depends(refuse_declared_oversize)],
    )
    _set_state(app, settings, course)

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for router in ALL_ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    # Innermost first: the body limit sees requests before any route, the headers go on
    # every response, including the limit's 413.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, https=settings.https)

    _install_login_redirect_and_access_log(app, settings)
    return app


def _set_state(app: FastAPI, settings: Settings, course: Course) -> None:
    """What the routes reach through web/deps.py: one of each per app."""
    app.state.settings = settings
    app.state.engine = make_engine(settings)
    app.state.course = course
    # Per process on purpose: they bound this process's own memory and threads.
    hash_slots.configure(
        slots=settings.password_hash_slots, wait_seconds=settings.password_hash_wait_seconds
    )
    app.state.password_gate = PasswordGate.from_settings(settings)
    _set_shared_limits(app, settings)


def _set_shared_limits(app: FastAPI, settings: Settings) -> None:
    """The limits that must hold for the whole deployment, not for one process: in Redis
    when settings say so (several web processes), else in memory."""
    per_user, total = settings.max_event_streams_per_user, settings.max_event_streams
    if settings.limits_backend == "redis":
        client = redis_client(settings.redis_url)
        app.state.limits_store = client  # /readyz checks it answers
        app.state.login_throttle = login_throttle(settings, redis_counters(client))
        app.state.stream_slots = RedisStreamSlots(
            client, per_user=per_user, total=total, lease_seconds=SLOT_LEASE_SECONDS
        )
    else:
        app.state.login_throttle = login_throttle(settings)
        app.state.stream_slots = MemoryStreamSlots(per_user=per_user, total=total)


def _install_login_redirect_and_access_log(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.middleware("http")
    async def _csrf_cookie_and_access_log(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        request.state.csrf_token = token
        response: Response = await call_next(request)
        if CSRF_COOKIE not in request.cookies:
            response.set_cookie(
                CSRF_COOKIE, token, httponly=True, samesite="lax", secure=settings.https
            )
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        path_template = getattr(route, "path", "unmatched")
        metrics.observe_request(request.method, path_template, response.status_code, elapsed)
        log.info(
            json.dumps(
                {
                    "event": "request",
                    "method": request.method,
                    "path": request.url.path,
                    "route": path_template,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 1),
                }
            )
        )
        return response
