"""Engine creation and the request-scoped session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session, create_engine

from servelab.settings import Settings

# What a database that is not reachable (stopped, restarting, the network gone) raises: the
# caller may try again later. Constraint violations and bad SQL are not among them.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# PostgreSQL: give up on a connection after this long instead of the OS's minutes, so a
# request answers 503 while the server is away rather than hanging.
CONNECT_TIMEOUT_SECONDS = 5


def pool_options(settings: Settings) -> dict[str, Any]:
    """Pool sizes from settings: enough for the request threads and the grading workers.

    Requests take a connection only while they run (event streams release theirs before
    streaming and poll with a short session), so the pool does not grow with open streams.
    A request that finds the pool exhausted waits `database_pool_timeout` seconds, then
    gets a 503 (web/errors.py) instead of hanging.
    """
    return {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout,
    }


def make_engine(settings: Settings) -> Engine:
    """An engine for the configured URL; SQLite gets WAL and foreign keys, like PostgreSQL."""
    url = settings.database_url
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            **({} if in_memory else pool_options(settings)),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if "postgresql" in url else {}
    return create_engine(
        url, pool_pre_ping=True, connect_args=connect_args, **pool_options(settings)
    )


def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session bound to engine, closed afterwards."""
    with Session(engine) as session:
        yield session
