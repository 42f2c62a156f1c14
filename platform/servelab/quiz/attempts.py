"""Attempts: start or continue, submit once (idempotently), expire on the time limit.

Every function takes the acting user's id and never returns another user's attempt.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from servelab.content.quiz import Quiz, ShowAnswers
from servelab.db.clock import utcnow
from servelab.db.models.quiz import AttemptStatus, QuizAnswer, QuizAttempt
from servelab.quiz.review import ReviewItem, review
from servelab.quiz.scoring import QuestionScore, Response, score_quiz

# Submissions arriving this long after the deadline still count: the form may have been
# sent just in time over a slow connection.
GRACE = timedelta(seconds=30)


class AttemptRefused(Exception):
    """A request about an attempt that cannot be honoured; `message` is for the learner."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class AttemptsExhausted(AttemptRefused):
    pass


class AttemptClosed(AttemptRefused):
    pass


@dataclass(frozen=True)
class SubmitOutcome:
    attempt: QuizAttempt
    scores: list[QuestionScore]
    repeated: bool  # True when this was an identical re-submission (nothing changed)


def answers_digest(responses: Mapping[str, Response]) -> str:
    canonical = json.dumps(responses, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def list_attempts(db: Session, *, user_id: int, slug: str) -> list[QuizAttempt]:
    """The user's attempts at this quiz, oldest first (expired ones marked as such)."""
    expire_overdue(db, user_id=user_id, slug=slug)
    stmt = (
        select(QuizAttempt)
        .where(QuizAttempt.user_id == user_id, QuizAttempt.quiz_slug == slug)
        .order_by(col(QuizAttempt.number))
    )
    return list(db.exec(stmt))


def get_attempt(db: Session, *, user_id: int, slug: str, attempt_id: int) -> QuizAttempt | None:
    """The attempt if it exists, is for this quiz and belongs to this user; else None."""
    attempt = db.get(QuizAttempt, attempt_id)
    if attempt is None or attempt.user_id != user_id or attempt.quiz_slug != slug:
        return None
    _expire_if_overdue(db, attempt)
    return attempt


def attempts_left(quiz: Quiz, attempts: list[QuizAttempt]) -> int | None:
    """How many more attempts may be started (None = unlimited); an open one is continued."""
    if quiz.attempts_allowed is None:
        return None
    return max(0, quiz.attempts_allowed - len(attempts))


def answers_revealed(quiz: Quiz, attempts: list[QuizAttempt]) -> bool:
    """May the learner see correct answers, explanations and per-option feedback now?"""
    if quiz.show_answers == ShowAnswers.IMMEDIATELY:
        return True
    if quiz.show_answers == ShowAnswers.NEVER:
        return False
    closed = [a for a in attempts if a.state != AttemptStatus.OPEN]
    return quiz.attempts_allowed is not None and len(closed) >= quiz.attempts_allowed


def start_or_continue(
    db: Session, *, quiz: Quiz, slug: str, user_id: int, now: datetime | None = None
) -> tuple[QuizAttempt, bool]:
    """The user's open attempt, or a new one; (attempt, created). Refuses past the limit."""
    now = now or utcnow()
    attempts = list_attempts(db, user_id=user_id, slug=slug)
    for attempt in attempts:
        if attempt.state == AttemptStatus.OPEN and not _overdue(attempt, now):
            return attempt, False
    if quiz.attempts_allowed is not None and len(attempts) >= quiz.attempts_allowed:
        raise AttemptsExhausted(
            f"You have used all {quiz.attempts_allowed} attempts at this quiz. "
            "Review your results and the lesson instead."
        )
    limit = quiz.time_limit_minutes
    attempt = QuizAttempt(
        user_id=user_id,
        quiz_slug=slug,
        number=len(attempts) + 1,
        seed=secrets.randbelow(2**31),
        started_at=now,
        deadline_at=now + timedelta(minutes=limit) if limit else None,
        max_score=quiz.max_score,
    )
    db.add(attempt)
    try:
        db.commit()
    except IntegrityError:
        # Another request (a double click) created the same attempt number first.
        db.rollback()
        attempts = list_attempts(db, user_id=user_id, slug=slug)
        if attempts and attempts[-1].state == AttemptStatus.OPEN:
            return attempts[-1], False
        raise AttemptRefused(
            "Another attempt was started at the same time; reload the page."
        ) from None
    db.refresh(attempt)
    return attempt, True


def _overdue(attempt: QuizAttempt, now: datetime) -> bool:
    return attempt.deadline_at is not None and now > attempt.deadline_at + GRACE


def _expire_if_overdue(db: Session, attempt: QuizAttempt, now: datetime | None = None) -> None:
    if attempt.state == AttemptStatus.OPEN and _overdue(attempt, now or utcnow()):
        db.exec(
            update(QuizAttempt)
            .where(col(QuizAttempt.id) == attempt.id, col(QuizAttempt.status) == AttemptStatus.OPEN)
            .values(status=AttemptStatus.EXPIRED)
        )
        db.commit()
        db.refresh(attempt)


def expire_overdue(db: Session, *, user_id: int, slug: str, now: datetime | None = None) -> None:
    """Close the user's open attempts whose time limit (plus grace) has passed."""
    now = now or utcnow()
    db.exec(
        update(QuizAttempt)
        .where(
            col(QuizAttempt.user_id) == user_id,
            col(QuizAttempt.quiz_slug) == slug,
            col(QuizAttempt.status) == AttemptStatus.OPEN,
            col(QuizAttempt.deadline_at).is_not(None),
            col(QuizAttempt.deadline_at) < now - GRACE,
        )
        .values(status=AttemptStatus.EXPIRED)
    )
    db.commit()


def submit(
    db: Session,
    *,
    quiz: Quiz,
    attempt: QuizAttempt,
    responses: Mapping[str, Response],
    now: datetime | None = None,
) -> SubmitOutcome:
    """Score and close an open attempt. An identical re-submission returns the stored result;
    different answers to a closed attempt, or answers after the time limit, are refused."""
    now = now or utcnow()
    digest = answers_digest(responses)
    if attempt.state == AttemptStatus.OPEN and _overdue(attempt, now):
        _expire_if_overdue(db, attempt, now)
    if attempt.state == AttemptStatus.SUBMITTED:
        if attempt.answers_digest == digest:
            return SubmitOutcome(attempt, stored_scores(db, attempt), repeated=True)
        raise AttemptClosed(
            "This attempt was already submitted and its answers can no longer change. "
            "Start a new attempt to try again."
        )
    if attempt.state == AttemptStatus.EXPIRED:
        raise AttemptClosed(
            "The time limit for this attempt has passed, so its answers were not accepted."
        )
    scores = score_quiz(quiz, responses)
    total = round(sum(s.earned for s in scores), 6)
    max_score = quiz.max_score
    closed = db.exec(
        update(QuizAttempt)
        .where(col(QuizAttempt.id) == attempt.id, col(QuizAttempt.status) == AttemptStatus.OPEN)
        .values(
            status=AttemptStatus.SUBMITTED,
            submitted_at=now,
            score=total,
            max_score=max_score,
            passed=total >= quiz.pass_mark * max_score - 1e-9,
            answers_digest=digest,
        )
    )
    if closed.rowcount != 1:
        # A concurrent request closed it first: answer as if this one came second.
        db.rollback()
        db.refresh(attempt)
        return submit(db, quiz=quiz, attempt=attempt, responses=responses, now=now)
    for score in scores:
        db.add(
            QuizAnswer(
                attempt_id=attempt.id,  # type: ignore[arg-type]
                question_id=score.question_id,
                response_json=json.dumps(responses.get(score.question_id)),
                earned=score.earned,
                points=score.points,
            )
        )
    db.commit()
    db.refresh(attempt)
    return SubmitOutcome(attempt, scores, repeated=False)


def stored_answers(db: Session, attempt: QuizAttempt) -> list[QuizAnswer]:
    stmt = select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id)
    return list(db.exec(stmt))


def stored_responses(db: Session, attempt: QuizAttempt) -> dict[str, Response]:
    return {a.question_id: json.loads(a.response_json) for a in stored_answers(db, attempt)}


def stored_scores(db: Session, attempt: QuizAttempt) -> list[QuestionScore]:
    return [QuestionScore(a.question_id, a.earned, a.points) for a in stored_answers(db, attempt)]


def count_attempts(db: Session, *, slug: str) -> int:
    stmt = select(func.count()).select_from(QuizAttempt).where(QuizAttempt.quiz_slug == slug)
    return int(db.exec(stmt).one())


@dataclass(frozen=True)
class AttemptReview:
    """A submitted attempt as its learner sees it, with the history that decides what shows."""

    items: list[ReviewItem]
    revealed: bool  # answers and explanations shown (the quiz's show_answers rule)
    history: list[QuizAttempt]


def review_attempt(db: Session, *, quiz: Quiz, slug: str, attempt: QuizAttempt) -> AttemptReview:
    history = list_attempts(db, user_id=attempt.user_id, slug=slug)
    revealed = answers_revealed(quiz, history)
    items = review(
        quiz,
        slug,
        seed=attempt.seed,
        responses=stored_responses(db, attempt),
        scores=stored_scores(db, attempt),
        revealed=revealed,
    )
    return AttemptReview(items, revealed, history)
