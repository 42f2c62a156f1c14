"""Shared fixtures: an isolated app per test with its own SQLite database, users, logins."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from servelab.accounts import service as accounts
from servelab.db.migrate import upgrade
from servelab.db.models import Role, User
from servelab.settings import PROJECT_ROOT, Settings

IN_CI = os.environ.get("CI") == "true"
ROOT = PROJECT_ROOT
PASSWORD = "correct horse battery"


def require_service(available: bool, what: str) -> None:
    """Skip locally when a service is missing; under CI=true a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} is not available")


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


def csrf_from(client: TestClient, path: str = "/login") -> str:
    """GET a page and pull the CSRF token out of its form."""
    html = client.get(path).text
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client: TestClient, user: User) -> None:
    """Log `user` in on `client` through the real login form."""
    token = csrf_from(client)
    r = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
