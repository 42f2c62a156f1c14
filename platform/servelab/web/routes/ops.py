"""Routes: liveness, readiness and Prometheus metrics for operators and orchestrators."""

from __future__ import annotations

import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from servelab.db.migrate import alembic_config
from servelab.settings import Settings
from servelab.web.deps import CourseDep, EngineDep, SettingsDep
from servelab.web.redis_limits import LimitsStoreDep

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving requests."""
    return {"status": "ok"}


def _head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


@router.get("/readyz")
def readyz(
    settings: SettingsDep, engine: EngineDep, course: CourseDep, limits_store: LimitsStoreDep
) -> JSONResponse:
    """Ready for traffic: the database answers, its schema is current, the content is loaded,
    and Redis answers when the shared limits live there."""
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
        head = _head_revision(settings)
        checks["database"] = "ok"
        checks["migrations"] = (
            "ok" if current == head else f"at {current}, expected {head}: run `servelab db upgrade`"
        )
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["content"] = f"ok ({len(course.lessons)} lessons)"  # the app loads it to start
    if limits_store is not None:
        try:
            limits_store.ping()
            checks["limits_store"] = "ok"
        except redis.RedisError as exc:
            checks["limits_store"] = f"unreachable: {type(exc).__name__}"
    ready = all(value.startswith("ok") for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics() -> PlainTextResponse:
    """Prometheus text exposition of the process's metrics."""
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
