"""The attempt lifecycle on PostgreSQL: conditional updates, unique attempt numbers, timestamps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from quiz_helpers import FLAGSHIP_DIR
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.content.quiz import load_quiz
from servelab.db.clock import utcnow
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models.quiz import AttemptStatus
from servelab.quiz import attempts as service
from servelab.settings import Settings

pytestmark = pytest.mark.postgres


def test_attempt_lifecycle_on_postgresql(postgres_db: str, tmp_path: Path) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var", database_url=postgres_db)
    upgrade(settings)
    quiz = load_quiz(FLAGSHIP_DIR / "quiz.toml").model_copy(update={"attempts_allowed": 2})
    engine = make_engine(settings)
    try:
        with Session(engine) as db:
            user = accounts.create_user(
                db, email="pg@example.org", password="correct horse battery"
            )
            assert user.id is not None
            start = utcnow()
            attempt, created = service.start_or_continue(
                db, quiz=quiz, slug="q", user_id=user.id, now=start
            )
            assert created and attempt.deadline_at == start + timedelta(minutes=30)
            answers = {"best-practice": "artifact-and-contract", "leaky-columns": ["churned"]}
            first = service.submit(db, quiz=quiz, attempt=attempt, responses=answers)
            assert first.attempt.score == pytest.approx(2 + 2 / 3)
            assert service.submit(db, quiz=quiz, attempt=attempt, responses=answers).repeated
            with pytest.raises(service.AttemptClosed):
                service.submit(db, quiz=quiz, attempt=attempt, responses={})
            assert service.stored_responses(db, attempt)["leaky-columns"] == ["churned"]

            late = utcnow() - timedelta(hours=1)
            second, _ = service.start_or_continue(
                db, quiz=quiz, slug="q", user_id=user.id, now=late
            )
            listed = service.list_attempts(db, user_id=user.id, slug="q")
            assert [a.state for a in listed] == [AttemptStatus.SUBMITTED, AttemptStatus.EXPIRED]
            assert second.number == 2
            with pytest.raises(service.AttemptsExhausted):
                service.start_or_continue(db, quiz=quiz, slug="q", user_id=user.id)
    finally:
        engine.dispose()
