"""Quiz tests run against a course folder holding the real flagship lesson and quiz, plus a
small quiz with limits (two attempts, five minutes, answers after the last attempt)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from quiz_helpers import FLAGSHIP, FLAGSHIP_DIR, LIMITED, LIMITED_QUIZ
from sqlmodel import Session

from servelab.accounts import service as accounts
from servelab.db.models import User
from servelab.settings import Settings


def _copy_lesson(dest: Path, slug: str) -> None:
    text = (FLAGSHIP_DIR / "lesson.md").read_text(encoding="utf-8")
    dest.mkdir(parents=True)
    (dest / "lesson.md").write_text(
        text.replace(f'slug = "{FLAGSHIP}"', f'slug = "{slug}"'), encoding="utf-8"
    )


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    root = tmp_path / "exercises"
    _copy_lesson(root / FLAGSHIP, FLAGSHIP)
    shutil.copy(FLAGSHIP_DIR / "quiz.toml", root / FLAGSHIP / "quiz.toml")
    _copy_lesson(root / LIMITED, LIMITED)
    (root / LIMITED / "quiz.toml").write_text(LIMITED_QUIZ, encoding="utf-8")
    return root


@pytest.fixture
def settings(tmp_path: Path, course_dir: Path) -> Settings:
    return Settings(environment="test", var_dir=tmp_path / "var", exercises_dir=course_dir)


@pytest.fixture
def bearer(db: Session):  # type: ignore[no-untyped-def]
    """Authorization headers for a user's fresh API token."""

    def _headers(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {accounts.create_api_token(db, user=user)}"}

    return _headers


@pytest.fixture
def html_client(app) -> TestClient:  # type: ignore[no-untyped-def]
    """A browser-like client: asks for HTML, so missing logins redirect to /login."""
    with TestClient(app, headers={"accept": "text/html"}) as c:
        yield c  # type: ignore[misc]
