"""Dependencies that turn a URL's slug or id into the thing it names, or answer 404.

Every id is checked against the person asking: a submission or attempt someone may not see
is indistinguishable from a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, status
from sqlmodel import Session

from servelab.content.exercise import Exercise
from servelab.content.lesson import Lesson
from servelab.content.loader import ExerciseFiles, UnknownExercise
from servelab.content.quiz import Quiz
from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.db.models.quiz import QuizAttempt
from servelab.grading import queue, views
from servelab.quiz import attempts
from servelab.web.deps import CourseDep, CurrentUser, InstructorUser, RowId, SessionDep

T = TypeVar("T")


def _not_found(message: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, message)


def get_exercise_files(slug: str, course: CourseDep) -> ExerciseFiles:
    try:
        return course.find_exercise(slug)
    except UnknownExercise as exc:
        raise _not_found(exc.message) from None


ExerciseFilesDep = Annotated[ExerciseFiles, Depends(get_exercise_files)]


def get_exercise(files: ExerciseFilesDep) -> Exercise:
    return files.exercise


ExerciseDep = Annotated[Exercise, Depends(get_exercise)]


def _named(items: Mapping[str, T], slug: str, missing: str) -> T:
    if slug not in items:
        raise _not_found(missing)
    return items[slug]


def get_lesson(slug: str, course: CourseDep) -> Lesson:
    missing = f"There is no lesson called '{slug}'. Pick one from the course index."
    return _named(course.lessons, slug, missing)


LessonDep = Annotated[Lesson, Depends(get_lesson)]


def get_quiz(slug: str, course: CourseDep) -> Quiz:
    missing = f"There is no quiz for '{slug}'. Pick a lesson from the course index."
    return _named(course.quizzes, slug, missing)


QuizDep = Annotated[Quiz, Depends(get_quiz)]


def visible_submission(db: Session, *, user: User, submission_id: int) -> Submission:
    """The submission if `user` may see it, else 404 (also for the event stream, which
    resolves it in a session of its own)."""
    submission = views.visible_submission(db, user=user, submission_id=submission_id)
    if submission is None:
        raise _not_found(f"There is no submission {submission_id} of yours.")
    return submission


def get_visible_submission(submission_id: RowId, user: CurrentUser, db: SessionDep) -> Submission:
    return visible_submission(db, user=user, submission_id=submission_id)


VisibleSubmission = Annotated[Submission, Depends(get_visible_submission)]


def get_any_submission(submission_id: RowId, _: InstructorUser, db: SessionDep) -> Submission:
    """Any submission, for instructors (learners get 403 before the lookup)."""
    submission = queue.get_submission(db, submission_id=submission_id)
    if submission is None:
        raise _not_found(f"There is no submission {submission_id}.")
    return submission


AnySubmission = Annotated[Submission, Depends(get_any_submission)]


def get_own_attempt(
    slug: str, attempt_id: RowId, _quiz: QuizDep, user: CurrentUser, db: SessionDep
) -> QuizAttempt:
    """The asker's own attempt at this quiz; another person's is a 404 like a missing one."""
    attempt = attempts.get_attempt(db, user_id=user.id or 0, slug=slug, attempt_id=attempt_id)
    if attempt is None:
        raise _not_found("No such attempt on your account.")
    return attempt


OwnAttempt = Annotated[QuizAttempt, Depends(get_own_attempt)]
