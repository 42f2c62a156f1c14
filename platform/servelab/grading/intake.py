"""Accepting a submission: check it, unpack it, hold the learner to the limits, queue it.

Input comes in two forms, one `accept()` for both: a .zip (the upload form, the API's
multipart body) or files as text (the browser editor, the API's JSON body). A submission is
unpacked into a fresh folder of its own under `settings.submissions_dir` (a random name, so
no request can aim at another learner's folder), then persisted and queued in one commit: a
worker never sees a row whose files are not there yet. The limits themselves (active, hourly,
unpacking slots) are `submission_limits`.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session

from servelab.content.exercise import Exercise
from servelab.content.loader import Course, UnknownExercise
from servelab.db.models import User
from servelab.db.models.grading import Submission
from servelab.grading import due_dates, queue
from servelab.grading.archive import MAX_COMPRESSED, ArchiveError, extract_zip, write_files
from servelab.grading.runtime import requirements_refusal
from servelab.grading.submission_limits import (
    IntakeBusy,
    intake_slot,
    limit_reached,
    lock_user_submissions,
)
from servelab.settings import Settings

REQUIRED_FILES = ("train.py", "main.py")


class SubmissionRefused(Exception):
    """A submission (or regrade) that cannot be accepted; `message` is for the person, as is.

    `retry_after_seconds` is set when waiting helps (a limit, a busy server): the routes send
    it as a Retry-After header.
    """

    def __init__(
        self, message: str, status_code: int = 400, *, retry_after_seconds: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.retry_after_seconds = retry_after_seconds


def submission_problem(folder: Path) -> str | None:
    """What makes an unpacked submission ungradable, said for the learner; None when fine.

    Checked when a submission is accepted (so nothing waits in the queue for nothing)
    and again by the pipeline before anything runs.
    """
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        return (
            f"Your submission has no {' or '.join(missing)}. ServeLab runs `python train.py`, "
            "then serves `app` from main.py; both files must be at the top of the folder."
        )
    return requirements_refusal(folder / "requirements.txt")


@dataclass(frozen=True)
class ZipUpload:
    """An uploaded .zip: bytes, or the spooled upload (it stays on disk until its turn to
    unpack, so waiting uploads hold no memory)."""

    data: bytes | BinaryIO | None

    def refusal(self) -> SubmissionRefused | None:
        if self.data is None or _is_empty(self.data):
            return SubmissionRefused("Choose a .zip file of your submission folder to upload.")
        return None

    def unpack(self, folder: Path) -> list[str]:
        assert self.data is not None
        return extract_zip(self.data, folder)


@dataclass(frozen=True)
class TextFiles:
    """Files sent as text (name -> text), from the browser editor or the JSON API."""

    files: dict[str, str]

    def refusal(self) -> SubmissionRefused | None:
        files = self.normalized()
        blank = [name for name in REQUIRED_FILES if not files.get(name, "").strip()]
        if blank:
            return SubmissionRefused(
                f"{' and '.join(blank)} {'is' if len(blank) == 1 else 'are'} empty. train.py "
                "trains and saves the model; main.py defines `app`. Start from the starter if "
                "unsure."
            )
        total = sum(len(text.encode("utf-8", "surrogatepass")) for text in files.values())
        if total > MAX_COMPRESSED:
            return SubmissionRefused(
                f"The files add up to {total / 2**20:.1f} MiB; the limit is "
                f"{MAX_COMPRESSED // 2**20} MiB. Leave data and trained models out.",
                413,
            )
        return None

    def normalized(self) -> dict[str, str]:
        """Windows line ends made Unix ones; an empty requirements.txt left out."""
        files = {name: text.replace("\r\n", "\n") for name, text in self.files.items()}
        if not files.get("requirements.txt", "x").strip():
            files.pop("requirements.txt")
        return files

    def unpack(self, folder: Path) -> list[str]:
        try:
            return write_files(self.normalized(), folder)
        except UnicodeEncodeError:
            raise ArchiveError("The files contain text that is not valid UTF-8.") from None


Upload = ZipUpload | TextFiles


def _is_empty(data: bytes | BinaryIO) -> bool:
    if isinstance(data, bytes):
        return not data
    empty = data.seek(0, os.SEEK_END) == 0
    data.seek(0)
    return empty


def accept(
    session: Session,
    *,
    settings: Settings,
    course: Course,
    user: User,
    exercise_slug: str,
    upload: Upload,
) -> Submission:
    """Check, unpack, persist and queue a submission; raises SubmissionRefused.

    Unpacking and checking happen outside any lock; counting against the limits and the
    insert happen under the user's row lock, in one transaction.
    """
    refused = upload.refusal()
    if refused is not None:
        raise refused
    try:
        exercise = course.find_exercise(exercise_slug).exercise
    except UnknownExercise as exc:
        raise SubmissionRefused(exc.message, 404) from None
    assert user.id is not None
    # A first look without the lock: a learner over a limit (or past a due date that takes
    # no late work) costs no unpacking.
    _late_or_refused(session, user=user, exercise_slug=exercise_slug, exercise=exercise)
    _refuse_over_limits(session, user=user, exercise_slug=exercise_slug, exercise=exercise)
    settings.submissions_dir.mkdir(parents=True, exist_ok=True)
    folder = settings.submissions_dir / f"{user.id}-{secrets.token_hex(12)}"
    folder.mkdir(mode=0o755)
    try:
        _unpack_and_check(upload, folder, settings)
        # Count and insert in one transaction while holding the lock (enqueue commits it).
        lock_user_submissions(session, user_id=user.id)
        _refuse_over_limits(session, user=user, exercise_slug=exercise_slug, exercise=exercise)
        # Decided again now: the due date may have passed while the upload was unpacked.
        late = _late_or_refused(session, user=user, exercise_slug=exercise_slug, exercise=exercise)
        return queue.enqueue_submission(
            session,
            user_id=user.id,
            exercise_slug=exercise_slug,
            source_dir=str(folder),
            late=late,
        )
    except ArchiveError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise SubmissionRefused(str(exc), 400) from None
    except BaseException:
        session.rollback()  # releases the lock of a refused submission at once
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _unpack_and_check(upload: Upload, folder: Path, settings: Settings) -> None:
    """Unpack in one of the server's few unpacking slots; raises ArchiveError for the learner."""
    try:
        with intake_slot(
            slots=settings.intake_concurrency, wait_seconds=settings.intake_wait_seconds
        ):
            upload.unpack(folder)
            problem = submission_problem(folder)
    except IntakeBusy:
        raise SubmissionRefused(
            "ServeLab is busy checking other uploads. Nothing was submitted; try again in "
            "a minute.",
            503,
            retry_after_seconds=60,
        ) from None
    if problem:
        raise ArchiveError(problem)


def _late_or_refused(
    session: Session, *, user: User, exercise_slug: str, exercise: Exercise
) -> bool:
    """Is a submission sent now late for this learner? Raises SubmissionRefused (403, with the
    due date) when it is and the exercise's late policy takes no late work; instructors (who
    try their own exercise) are marked but never refused, as they skip the hourly limit."""
    assert user.id is not None
    due = due_dates.effective_due(session, exercise, exercise_slug=exercise_slug, user_id=user.id)
    if not due_dates.is_late(due):
        return False
    assert due is not None
    if not exercise.late_policy.accept and not user.is_instructor:
        raise SubmissionRefused(due_dates.late_refusal(due), 403)
    return True


def _refuse_over_limits(
    session: Session, *, user: User, exercise_slug: str, exercise: Exercise
) -> None:
    reached = limit_reached(
        session,
        user=user,
        exercise_slug=exercise_slug,
        per_hour=exercise.limits.submissions_per_hour,
    )
    if reached is not None:
        raise SubmissionRefused(
            reached.message, 429, retry_after_seconds=reached.retry_after_seconds
        )
