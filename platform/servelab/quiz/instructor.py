"""The instructor's side of a quiz: every attempt with its learner and answers, item analysis."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlmodel import Session, col, select

from servelab.content.quiz import Quiz
from servelab.db.models import User
from servelab.db.models.quiz import AttemptStatus, QuizAnswer, QuizAttempt
from servelab.quiz.stats import ItemResponse, QuizStats, ScoredAttempt, quiz_stats


def all_attempts(db: Session, *, slug: str) -> list[tuple[QuizAttempt, User]]:
    """Every attempt at the quiz with its learner, oldest first."""
    stmt = (
        select(QuizAttempt, User)
        .where(QuizAttempt.quiz_slug == slug, QuizAttempt.user_id == User.id)
        .order_by(col(QuizAttempt.started_at), col(QuizAttempt.id))
    )
    return [(a, u) for a, u in db.exec(stmt)]


def answers_by_attempt(db: Session, attempt_ids: list[int]) -> dict[int, list[QuizAnswer]]:
    out: dict[int, list[QuizAnswer]] = {}
    if not attempt_ids:
        return out
    stmt = select(QuizAnswer).where(col(QuizAnswer.attempt_id).in_(attempt_ids))
    for answer in db.exec(stmt):
        out.setdefault(answer.attempt_id, []).append(answer)
    return out


def _scored(attempt: QuizAttempt, answers: list[QuizAnswer]) -> ScoredAttempt:
    return ScoredAttempt(
        attempt_id=attempt.id or 0,
        items={
            a.question_id: ItemResponse(a.earned, a.points, json.loads(a.response_json))
            for a in answers
        },
    )


@dataclass(frozen=True)
class QuizReport:
    rows: list[tuple[QuizAttempt, User]]  # every attempt, open ones too
    summary: QuizStats  # over every submitted attempt
    item_stats: QuizStats  # over each learner's first submitted attempt (item analysis)
    learners: int


def quiz_report(db: Session, *, quiz: Quiz, slug: str) -> QuizReport:
    """Scores over all submitted attempts; item statistics over first attempts only, so a
    learner's retries (having seen the answers) do not flatter the questions."""
    rows = all_attempts(db, slug=slug)
    submitted = [(a, u) for a, u in rows if a.state == AttemptStatus.SUBMITTED]
    answers = answers_by_attempt(db, [a.id or 0 for a, _ in submitted])
    scored_all = [_scored(a, answers.get(a.id or 0, [])) for a, _ in submitted]
    first_ids: dict[int, int] = {}
    for attempt, _ in submitted:
        first_ids.setdefault(attempt.user_id, attempt.id or 0)
    first = [s for s in scored_all if s.attempt_id in first_ids.values()]
    return QuizReport(
        rows=rows,
        summary=quiz_stats(quiz, scored_all),
        item_stats=quiz_stats(quiz, first),
        learners=len({a.user_id for a, _ in rows}),
    )
