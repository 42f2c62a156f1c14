"""Shared fixtures of the web tests: the tiny grading course, API tokens, logged-in clients,
stored submissions. The app, its database and `make_user` come from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import bearer_headers, course_settings, store_submission
from sqlmodel import Session

from servelab.db.models import Role, User
from servelab.db.models.grading import Submission
from servelab.settings import Settings
from support import login


@pytest.fixture
def tiny_settings(tmp_path: Path) -> Settings:
    """Settings for the tiny grading course (grading_web_helpers.build_course); a module
    grades against it by overriding `settings` with this."""
    return course_settings(tmp_path)


@pytest.fixture
def bearer(db: Session) -> Callable[[User], dict[str, str]]:
    """Authorization headers with a fresh API token of the user."""

    return lambda user: bearer_headers(db, user)


@pytest.fixture
def learner(make_user: Callable[..., User]) -> User:
    return make_user(Role.LEARNER)


@pytest.fixture
def learner_client(client: TestClient, learner: User) -> TestClient:
    """`client` with `learner` logged in (a browser session: cookie and CSRF token)."""
    login(client, learner)
    return client


@pytest.fixture
def stored(db: Session) -> Callable[..., Submission]:
    """store_submission bound to the test's database session."""

    def _store(user: User, **kwargs: Any) -> Submission:
        return store_submission(db, user, **kwargs)

    return _store
