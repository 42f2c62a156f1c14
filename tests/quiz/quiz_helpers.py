"""Fixtures and constants shared by the quiz tests.

Quiz tests run against a course folder holding the real flagship lesson and quiz, plus a
small quiz with limits (two attempts, five minutes, answers after the last attempt).
Test modules import the fixtures they need from here: a conftest.py in this folder would
shadow the top-level `conftest` module that tests import helpers from.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.content.quiz import CodeOutput, Quiz, ShortText, TrueFalse
from servelab.db.models import User
from servelab.settings import PROJECT_ROOT, Settings

FLAGSHIP = "fastapi-for-ml-apis"
LIMITED = "limited-quiz"
FLAGSHIP_DIR = PROJECT_ROOT / "exercises" / FLAGSHIP

LIMITED_QUIZ = """
title = "Limited quiz"
attempts_allowed = 2
time_limit_minutes = 5
shuffle_questions = true
shuffle_options = true
show_answers = "after_last_attempt"

[[questions]]
id = "split"
prompt = "Which split matches how the model will be used?"
explanation = "SECRET-EXPLANATION-SPLIT: test on the future."
section = "temporal-split"
answer = "time"
options = [
  { id = "time", text = "By time", feedback = "SECRET-FEEDBACK-TIME" },
  { id = "random", text = "At random", feedback = "SECRET-FEEDBACK-RANDOM" },
  { id = "kfold", text = "Shuffled k-fold" },
  { id = "train", text = "Score on the training rows" },
]

[[questions]]
id = "leaks"
type = "multiple"
prompt = "Which columns leak?"
explanation = "SECRET-EXPLANATION-LEAKS"
section = "leakage"
answers = ["id", "label"]
options = [
  { id = "id", text = "customer id" },
  { id = "label", text = "churned" },
  { id = "tenure", text = "tenure" },
  { id = "spend", text = "spend" },
]

[[questions]]
id = "p50"
type = "numeric"
prompt = "Median of 1, 2, 3, 4?"
explanation = "SECRET-EXPLANATION-P50"
section = "latency-and-monitoring"
answer = 2.5
tolerance = 0.01
"""


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
def html_client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A browser-like client: asks for HTML, so missing logins redirect to /login."""
    with TestClient(app, headers={"accept": "text/html"}) as c:
        yield c


def secrets_of(quiz: Quiz) -> list[str]:
    """Every text that would give an answer away before submission."""
    out: list[str] = []
    for q in quiz.questions:
        out.append(q.explanation)
        for option in getattr(q, "options", []):
            if option.feedback:
                out.append(option.feedback)
        if isinstance(q, TrueFalse):
            out += [t for t in (q.feedback_true, q.feedback_false) if t]
        if isinstance(q, ShortText):
            out += q.accepted
        if isinstance(q, CodeOutput):
            out.append(q.expected_output.strip())
    return out


ANSWER_KEYS = {
    "answer",
    "answers",
    "accepted",
    "expected_output",
    "explanation",
    "feedback",
    "tolerance",
    "correct",
    "correct_answer",
    "feedback_true",
    "feedback_false",
}


def keys_in(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def assert_no_answers(quiz: Quiz, text: str) -> None:
    for secret in secrets_of(quiz):
        assert secret not in text, f"revealed before submission: {secret[:60]!r}"
        assert json.dumps(secret)[1:-1] not in text
    assert "option-correct" not in text and "(correct)" not in text


@pytest.fixture
def flagship(app) -> Quiz:  # type: ignore[no-untyped-def]
    """The flagship lesson's quiz, as the app loaded it."""
    return app.state.course.quizzes[FLAGSHIP]
