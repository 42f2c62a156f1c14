"""A learner's progress through the course: lessons opened, best quiz and exercise scores.

The course index shows it per lesson for a logged-in learner. `course_progress` costs one
query per kind (visits, quiz attempts, submissions, extensions), never one per lesson.
Exercise scores are the ones the learner may see (`views.learner_score` with their own due
date): before the due date of an exercise with split hidden data, the feedback part's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, load_only
from sqlmodel import Session, col, select

from servelab.content.exercise import Exercise
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.db.models.progress import LessonVisit
from servelab.db.models.quiz import AttemptStatus, QuizAttempt
from servelab.grading import due_dates, views


def record_visit(session: Session, *, user_id: int, lesson_slug: str) -> None:
    """Note that the learner opened the lesson, once: a visit already recorded costs one
    primary-key read and no write."""
    if session.get(LessonVisit, (user_id, lesson_slug)) is not None:
        return
    session.add(LessonVisit(user_id=user_id, lesson_slug=lesson_slug))
    try:
        session.commit()
    except IntegrityError:  # the same learner's other tab recorded it a moment ago
        session.rollback()


@dataclass(frozen=True)
class Score:
    score: float
    max_score: float

    @property
    def percent(self) -> float:
        return round(100 * self.score / self.max_score, 1) if self.max_score else 0.0


@dataclass(frozen=True)
class LessonProgress:
    opened: bool = False
    best_quiz: Score | None = None
    best_exercise: Score | None = None
    best_submission_id: int | None = None


@dataclass(frozen=True)
class CourseProgress:
    lessons: dict[str, LessonProgress] = field(default_factory=dict)

    def of(self, slug: str) -> LessonProgress:
        return self.lessons.get(slug, LessonProgress())

    @property
    def opened_count(self) -> int:
        return sum(1 for p in self.lessons.values() if p.opened)


def _opened(session: Session, user_id: int) -> set[str]:
    stmt = select(LessonVisit.lesson_slug).where(LessonVisit.user_id == user_id)
    return set(session.exec(stmt))


def _best_quizzes(session: Session, user_id: int) -> dict[str, Score]:
    """Best submitted attempt per quiz, by share of the points (a quiz's total may change)."""
    stmt = select(QuizAttempt.quiz_slug, QuizAttempt.score, QuizAttempt.max_score).where(
        QuizAttempt.user_id == user_id,
        QuizAttempt.status == AttemptStatus.SUBMITTED,
        col(QuizAttempt.score).is_not(None),
    )
    best: dict[str, Score] = {}
    for slug, score, max_score in session.exec(stmt):
        candidate = Score(float(score or 0), float(max_score))
        if slug not in best or candidate.percent > best[slug].percent:
            best[slug] = candidate
    return best


def _graded_submissions(session: Session, user_id: int) -> list[Submission]:
    """The learner's graded submissions, newest first, without their large text columns."""
    # The columns learner_score and best_graded read (sqlmodel types them as plain values).
    needed = cast(
        "list[QueryableAttribute[Any]]",
        [
            Submission.id,
            Submission.exercise_slug,
            Submission.status,
            Submission.score,
            Submission.max_score,
            Submission.feedback_score,
            Submission.feedback_max_score,
            Submission.requested_at,
        ],
    )
    stmt = (
        select(Submission)
        .options(load_only(*needed))
        .where(Submission.user_id == user_id, Submission.status == SubmissionStatus.GRADED)
        .order_by(col(Submission.requested_at).desc(), col(Submission.id).desc())
    )
    return list(session.exec(stmt))


def course_progress(
    session: Session,
    *,
    user_id: int,
    lesson_slugs: list[str],
    exercises: Mapping[str, Exercise],
) -> CourseProgress:
    """Progress per lesson (a lesson's quiz and exercise share its slug)."""
    opened = _opened(session, user_id)
    quizzes = _best_quizzes(session, user_id)
    mine = due_dates.learner_exercises(session, exercises, user_id=user_id)
    by_exercise: dict[str, list[Submission]] = {}
    for submission in _graded_submissions(session, user_id):
        by_exercise.setdefault(submission.exercise_slug, []).append(submission)
    lessons = {}
    for slug in lesson_slugs:
        best = views.best_graded(by_exercise.get(slug, []), mine)
        shown = views.learner_score(best, mine.get(slug)) if best is not None else (None, None)
        lessons[slug] = LessonProgress(
            opened=slug in opened,
            best_quiz=quizzes.get(slug),
            best_exercise=Score(shown[0], shown[1] or 0.0) if shown[0] is not None else None,
            best_submission_id=best.id if best is not None else None,
        )
    return CourseProgress(lessons)
