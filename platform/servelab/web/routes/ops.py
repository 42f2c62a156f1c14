"""Routes: liveness, readiness and Prometheus metrics for operators and orchestrators."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from servelab.db.migrate import alembic_config

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving requests."""
    return {"status": "ok"}


def _head_revision(request: Request) -> str | None:
    config = alembic_config(request.app.state.settings)
    return ScriptDirectory.from_config(config).get_current_head()


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers, its schema is current, the content is loaded."""
    checks: dict[str, str] = {}
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
        head = _head_revision(request)
        checks["database"] = "ok"
        checks["migrations"] = (
            "ok" if current == head else f"at {current}, expected {head}: run `servelab db upgrade`"
        )
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    course = getattr(request.app.state, "course", None)
    checks["content"] = (
        f"ok ({len(course.lessons)} lessons)" if course is not None else "not loaded"
    )
    ready = all(value.startswith("ok") for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", response_class=PlainTextResponse)
def metrics() -> PlainTextResponse:
    """Prometheus text exposition of the process's metrics."""
    return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)
