"""Shared by the grading routes: the course, upload size limits, form helpers, ownership checks."""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from starlette.datastructures import UploadFile

from servelab.content.exercise import Exercise
from servelab.content.loader import Course, ExerciseFiles, UnknownExercise
from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.grading import views
from servelab.grading.archive import MAX_COMPRESSED
from servelab.web.body_limit import BodyLimit
from servelab.web.deps import get_current_user

# Room for the multipart envelope and the editor's text fields around a maximal archive.
MAX_BODY_BYTES = MAX_COMPRESSED + 512 * 1024


def course_of(request: Request) -> Course:
    return request.app.state.course


def exercise_files_or_404(course: Course, slug: str) -> ExerciseFiles:
    try:
        return course.find_exercise(slug)
    except UnknownExercise as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, exc.message) from None


def exercise_or_404(course: Course, slug: str) -> Exercise:
    return exercise_files_or_404(course, slug).exercise


def upload_refusal(size: int) -> str:
    return (
        f"The upload is {size / 2**20:.1f} MiB; the limit is {MAX_COMPRESSED // 2**20} MiB for "
        "the archive. Leave data and trained models out: train.py builds the model from DATA_DIR."
    )


def too_large(size: int) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, upload_refusal(size))


# The upload routes' own body limit, larger than the app's (web/body_limit.py enforces it:
# a declared length over it is refused unread, a chunked body once it passes it).
UploadLimit = Depends(BodyLimit(MAX_BODY_BYTES, upload_refusal))
# Resolved first on upload routes, so nobody uploads anything before proving who they are.
LoggedIn = Depends(get_current_user)


def form_text(value: Any) -> str:
    return value if isinstance(value, str) else ""


async def read_upload(value: Any) -> BinaryIO | None:
    """The uploaded archive as the parser spooled it (in memory up to 1 MiB, on disk beyond),
    size-checked; the archive code reads it a piece at a time, never whole."""
    if not isinstance(value, UploadFile):
        return None
    size = value.size if value.size is not None else await run_in_threadpool(_size, value.file)
    if size > MAX_COMPRESSED:
        raise too_large(size)
    await value.seek(0)
    return value.file


def _size(file: BinaryIO) -> int:
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    return size


def visible_or_404(db: Session, user: User, submission_id: int) -> Submission:
    submission = views.visible_submission(db, user=user, submission_id=submission_id)
    if submission is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"There is no submission {submission_id} of yours."
        )
    return submission


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def wake_workers(request: Request) -> None:
    """Tell the app's embedded grading pool (if it runs one) that a submission was queued."""
    pool = getattr(request.app.state, "grading_pool", None)
    if pool is not None:
        pool.wake()
