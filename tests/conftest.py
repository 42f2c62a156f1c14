"""Shared fixtures: an isolated app per test with its own SQLite database, users, logins."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.migrate import upgrade
from servelab.db.models import Role, User
from servelab.settings import Settings
from support import PASSWORD, require_docker


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("SERVELAB_TEST_DATABASE", "sqlite"),
        help="The database of every test: a SQLite file in its own var folder (default), or a "
        "database of its own in the session's PostgreSQL (SERVELAB_DATABASE_URL is set for "
        "the test, so every Settings it builds, and every process it starts, uses it).",
    )


@pytest.fixture(autouse=True)
def _database_of_this_pass(request: pytest.FixtureRequest) -> Iterator[None]:
    """With --database=postgresql, the test's own PostgreSQL database (see pytest_addoption);
    a test that names its database explicitly keeps it."""
    if request.config.getoption("database") != "postgresql":
        yield
        return
    url = request.getfixturevalue("postgres_db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERVELAB_DATABASE_URL", url)
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", var_dir=tmp_path / "var")


@pytest.fixture
def migrated(settings: Settings) -> Settings:
    upgrade(settings)
    return settings


@pytest.fixture
def app(migrated: Settings):  # type: ignore[no-untyped-def]
    from servelab.web.app import create_app

    return create_app(migrated)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


@pytest.fixture
def db(app) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        yield session


@pytest.fixture
def make_user(db: Session):  # type: ignore[no-untyped-def]
    counter = iter(range(1, 10_000))

    def _make(role: Role = Role.LEARNER, email: str | None = None) -> User:
        n = next(counter)
        return accounts.create_user(
            db, email=email or f"{role.value}{n}@example.org", password=PASSWORD, role=role
        )

    return _make


# --- PostgreSQL 15: the one harness every PostgreSQL test uses (tests/postgres_server.py) ----


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The PostgreSQL server of the whole test session, as a SQLAlchemy URL for psycopg 3.

    SERVELAB_TEST_POSTGRES_URL names a server that already runs (a CI service, say); otherwise
    a throwaway PostgreSQL 15 cluster starts on a free loopback port. Tests take a database
    of their own from `postgres_db`, never this URL's.
    """
    if url := os.environ.get("SERVELAB_TEST_POSTGRES_URL"):
        yield url
        return
    from postgres_server import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database in the session's PostgreSQL server; yields its URL, then drops it."""
    import uuid

    from sqlalchemy import create_engine, make_url, text

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# --- Docker engine and the runtime image ------------------------------------------------------


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client of the real Docker engine; under CI=true a missing engine fails the test."""
    require_docker(images=False)
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="session")
def runtime_image(docker_client: docker.DockerClient) -> str:
    """The runtime image tag, with both grading images required current."""
    require_docker()
    return Settings(environment="test").runtime_image


@pytest.fixture(scope="session")
def grader_image(runtime_image: str) -> str:
    """The grader image tag (the hidden suite's container)."""
    return Settings(environment="test").grader_image


# --- Markers that match what each test needs ---------------------------------------------------

# A test whose fixtures reach one of these services must carry its marker, so `-m "not docker"`
# (or "not postgres") really leaves out every test that needs it.
SERVICE_FIXTURES = {
    "docker": {"docker_client", "runtime_image", "grader_image", "grading_settings"},
    "postgres": {"postgres_url", "postgres_db"},
    "redis": {"redis_url", "redis_db", "redis_server"},
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        f"{item.nodeid} uses {', '.join(sorted(needs))} but is not marked {marker}"
        for item in items
        for marker, fixtures in SERVICE_FIXTURES.items()
        if (needs := fixtures & set(getattr(item, "fixturenames", ())))
        and item.get_closest_marker(marker) is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests without the marker their fixtures need:\n" + "\n".join(unmarked)
        )


# --- Redis: one throwaway server per test session (tests/redis_server.py) ----------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's Redis (redis-server on a free loopback port); tests empty it first
    through `redis_db`."""
    from redis_server import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[str]:
    """The session's Redis, emptied for this test; yields its URL."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    yield redis_url


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limits_store(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Where shared limits are counted, once each way: None for this process's memory, else a
    client of the session's Redis, emptied for this test."""
    if request.param == "memory":
        return None
    import redis

    client = redis.Redis.from_url(request.getfixturevalue("redis_db"))
    request.addfinalizer(client.close)
    return client
