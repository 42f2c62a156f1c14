"""Attempts: time limit, attempts limit, idempotent submit, closed attempts, ownership."""

from __future__ import annotations

from datetime import timedelta

import pytest
import quiz_helpers
from quiz_helpers import LIMITED
from sqlmodel import Session, select

from servelab.content.quiz import Quiz
from servelab.db.clock import utcnow
from servelab.db.models.quiz import AttemptStatus, QuizAnswer
from servelab.quiz import attempts as service

RIGHT = {"split": "time", "leaks": ["id", "label"], "p50": "2.5"}

# Fixtures from quiz_helpers (a conftest.py here would shadow the top-level one).
course_dir = quiz_helpers.course_dir
settings = quiz_helpers.settings


@pytest.fixture
def quiz(app) -> Quiz:  # type: ignore[no-untyped-def]
    return app.state.course.quizzes[LIMITED]


def test_start_continues_the_open_attempt(db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    first, created = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    again, created_again = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    assert created and not created_again
    assert again.id == first.id and first.number == 1
    assert first.deadline_at == first.started_at + timedelta(minutes=5)


def test_attempts_limit(db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    for number in (1, 2):
        attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
        assert attempt.number == number
        service.submit(db, quiz=quiz, attempt=attempt, responses={})
    with pytest.raises(service.AttemptsExhausted, match="used all 2 attempts"):
        service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    # another learner is not affected
    other = make_user()
    assert service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=other.id)[1]


def test_submit_scores_and_records_each_answer(db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    outcome = service.submit(
        db, quiz=quiz, attempt=attempt, responses={"split": "time", "leaks": ["id"]}
    )
    assert not outcome.repeated
    assert outcome.attempt.state == AttemptStatus.SUBMITTED
    assert outcome.attempt.score == 1.5 and outcome.attempt.max_score == 3
    assert outcome.attempt.passed is False
    assert service.stored_responses(db, attempt) == {"split": "time", "leaks": ["id"], "p50": None}
    assert {s.question_id: s.earned for s in service.stored_scores(db, attempt)} == {
        "split": 1.0,
        "leaks": 0.5,
        "p50": 0.0,
    }


def test_submitting_the_same_answers_twice_is_harmless(db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    first = service.submit(db, quiz=quiz, attempt=attempt, responses=RIGHT)
    submitted_at = first.attempt.submitted_at
    second = service.submit(db, quiz=quiz, attempt=attempt, responses=dict(reversed(RIGHT.items())))
    assert second.repeated
    assert second.attempt.submitted_at == submitted_at and second.attempt.score == 3
    assert len(service.stored_answers(db, attempt)) == 3
    assert len(db.exec(select(QuizAnswer)).all()) == 3


def test_different_answers_to_a_closed_attempt_are_refused(
    db: Session, quiz: Quiz, make_user
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    service.submit(db, quiz=quiz, attempt=attempt, responses={"split": "random"})
    with pytest.raises(service.AttemptClosed, match="already submitted"):
        service.submit(db, quiz=quiz, attempt=attempt, responses=RIGHT)
    db.refresh(attempt)
    assert attempt.score == 0


def test_time_limit_is_enforced_with_a_short_grace(db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    start = utcnow()
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id, now=start)
    late = start + timedelta(minutes=5) + service.GRACE + timedelta(seconds=1)
    with pytest.raises(service.AttemptClosed, match="time limit"):
        service.submit(db, quiz=quiz, attempt=attempt, responses=RIGHT, now=late)
    db.refresh(attempt)
    assert attempt.state == AttemptStatus.EXPIRED and attempt.score is None
    assert service.stored_answers(db, attempt) == []
    # an expired attempt counts; the next start opens attempt 2
    nxt, created = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id, now=late)
    assert created and nxt.number == 2
    just_in_time = late + timedelta(minutes=5)  # 4 min 59 s after attempt 2 started + grace
    outcome = service.submit(db, quiz=quiz, attempt=nxt, responses=RIGHT, now=just_in_time)
    assert outcome.attempt.score == 3


def test_an_overdue_open_attempt_expires_when_listed(db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    attempt, _ = service.start_or_continue(
        db, quiz=quiz, slug=LIMITED, user_id=user.id, now=utcnow() - timedelta(minutes=10)
    )
    listed = service.list_attempts(db, user_id=user.id, slug=LIMITED)
    assert [a.status for a in listed] == ["expired"]
    assert service.attempts_left(quiz, listed) == 1


def test_attempts_belong_to_their_user(db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    owner, other = make_user(), make_user()
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=owner.id)
    assert service.get_attempt(db, user_id=other.id, slug=LIMITED, attempt_id=attempt.id) is None
    assert service.get_attempt(db, user_id=owner.id, slug="other", attempt_id=attempt.id) is None
    assert service.get_attempt(db, user_id=owner.id, slug=LIMITED, attempt_id=attempt.id)


def test_answers_are_revealed_after_the_last_attempt_only(
    db: Session, quiz: Quiz, make_user
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    service.submit(db, quiz=quiz, attempt=attempt, responses={})
    assert not service.answers_revealed(
        quiz, service.list_attempts(db, user_id=user.id, slug=LIMITED)
    )
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    assert not service.answers_revealed(
        quiz, service.list_attempts(db, user_id=user.id, slug=LIMITED)
    )
    service.submit(db, quiz=quiz, attempt=attempt, responses={})
    assert service.answers_revealed(quiz, service.list_attempts(db, user_id=user.id, slug=LIMITED))


def test_a_racing_second_submission_sees_the_first(app, db: Session, quiz: Quiz, make_user) -> None:  # type: ignore[no-untyped-def]
    """Two requests loaded the open attempt; the one that commits second must not overwrite."""
    user = make_user()
    attempt, _ = service.start_or_continue(db, quiz=quiz, slug=LIMITED, user_id=user.id)
    with Session(app.state.engine) as other_db, Session(app.state.engine) as third_db:
        stale = other_db.get(type(attempt), attempt.id)
        stale_too = third_db.get(type(attempt), attempt.id)
        assert stale is not None and stale_too is not None
        assert stale.state == AttemptStatus.OPEN  # loaded before the first submission
        service.submit(db, quiz=quiz, attempt=attempt, responses=RIGHT)
        repeated = service.submit(other_db, quiz=quiz, attempt=stale, responses=RIGHT)
        assert repeated.repeated and repeated.attempt.score == 3
        with pytest.raises(service.AttemptClosed):
            service.submit(third_db, quiz=quiz, attempt=stale_too, responses={"split": "random"})
    db.refresh(attempt)
    assert attempt.score == 3
    assert len(service.stored_answers(db, attempt)) == 3
