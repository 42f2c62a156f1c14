"""Fixtures of the grading engine's tests (plain helpers are in grading_helpers.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from grading_helpers import make_learner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from redis_server import RedisServer
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.settings import Settings


@pytest.fixture
def later() -> Iterator[subprocess.Popen[bytes]]:
    """A process started now: its pid may have belonged to an earlier, finished process."""
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Engine]:
    """A migrated database on SQLite, then on PostgreSQL: the queue's SQL must work on both."""
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_db")
        settings = settings.model_copy(update={"database_url": database_url})
    upgrade(settings)
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def user_id(engine: Engine) -> int:
    with Session(engine) as session:
        user = make_learner(session)
        assert user.id is not None
        return user.id


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone on a free loopback port (celery_helpers.RedisServer)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
