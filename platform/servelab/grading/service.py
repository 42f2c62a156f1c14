"""Glue between the web app and the grading queue: accept, show and regrade submissions.

A submission is unpacked into a fresh folder of its own under `settings.submissions_dir`
(a random name, so no request can aim at another learner's folder), then persisted and
queued in one commit: a worker never sees a row whose files are not there yet.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sqlmodel import Session, col, func, select

from servelab.content.exercise import Exercise
from servelab.content.loader import Course
from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.archive import MAX_COMPRESSED, ArchiveError, extract_zip, write_files
from servelab.grading.pipeline import REQUIRED_FILES, submission_problem
from servelab.grading.results import ResultDocument, ResultError, learner_view, parse_result
from servelab.grading.submission_limits import (
    ACTIVE_STATUSES,
    IntakeBusy,
    intake_slot,
    limit_reached,
    lock_user_submissions,
)
from servelab.settings import Settings

# Editor files a learner may send from the browser (anything else belongs in a zip).
EDITOR_FILES = ("train.py", "main.py", "requirements.txt")


class SubmissionRefused(Exception):
    """A submission that cannot be accepted; `message` is for the learner, as is.

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


def exercise_folder(course: Course, slug: str) -> Path:
    return course.root / slug


def get_exercise(course: Course, slug: str) -> Exercise:
    exercise = course.exercises.get(slug)
    if exercise is None:
        known = ", ".join(sorted(course.exercises)) or "none yet"
        raise SubmissionRefused(
            f"There is no exercise called '{slug[:100]}'. Known exercises: {known}.", 404
        )
    return exercise


def starter_files(course: Course, slug: str) -> dict[str, Path]:
    """The starter's regular files (relative name -> path); links and junk are left out."""
    exercise = get_exercise(course, slug)
    root = (exercise_folder(course, slug) / exercise.starter).resolve()
    files: dict[str, Path] = {}
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_symlink() or not path.is_file() or path.suffix == ".pyc":
            continue
        if not path.resolve().is_relative_to(root):
            continue
        files[rel.as_posix()] = path
    return files


def starter_zip(course: Course, slug: str) -> bytes:
    """The starter folder as a .zip whose files sit at the top level, ready to edit and submit."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in starter_files(course, slug).items():
            archive.writestr(
                zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), path.read_bytes()
            )
    return buffer.getvalue()


def starter_texts(course: Course, slug: str) -> dict[str, str]:
    """The editor's initial contents: the starter's train.py, main.py and requirements.txt."""
    files = starter_files(course, slug)
    return {
        name: files[name].read_text(encoding="utf-8") if name in files else ""
        for name in EDITOR_FILES
    }


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


def _accept(
    session: Session,
    *,
    settings: Settings,
    course: Course,
    user: User,
    exercise_slug: str,
    unpack: Callable[[Path], list[str]],
) -> Submission:
    """Unpack and check outside any lock, then count and insert under the user's row lock."""
    exercise = get_exercise(course, exercise_slug)
    assert user.id is not None
    # A first look without the lock: a learner over a limit costs no unpacking.
    _refuse_over_limits(session, user=user, exercise_slug=exercise_slug, exercise=exercise)
    settings.submissions_dir.mkdir(parents=True, exist_ok=True)
    folder = settings.submissions_dir / f"{user.id}-{secrets.token_hex(12)}"
    folder.mkdir(mode=0o755)
    try:
        try:
            with intake_slot(
                slots=settings.intake_concurrency, wait_seconds=settings.intake_wait_seconds
            ):
                unpack(folder)
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
        # Count and insert in one transaction while holding the lock (enqueue commits it).
        lock_user_submissions(session, user_id=user.id)
        _refuse_over_limits(session, user=user, exercise_slug=exercise_slug, exercise=exercise)
        return queue.enqueue_submission(
            session, user_id=user.id, exercise_slug=exercise_slug, source_dir=str(folder)
        )
    except ArchiveError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise SubmissionRefused(str(exc), 400) from None
    except BaseException:
        session.rollback()  # releases the lock of a refused submission at once
        shutil.rmtree(folder, ignore_errors=True)
        raise


def create_submission_from_zip(
    session: Session,
    *,
    settings: Settings,
    course: Course,
    user: User,
    exercise_slug: str,
    data: bytes | BinaryIO | None,
) -> Submission:
    """Check and unpack an uploaded .zip (bytes, or the spooled upload), then persist and queue
    it. An upload stays on disk until its turn to unpack: waiting uploads hold no memory."""
    if data is None or _is_empty(data):
        raise SubmissionRefused("Choose a .zip file of your submission folder to upload.")
    return _accept(
        session,
        settings=settings,
        course=course,
        user=user,
        exercise_slug=exercise_slug,
        unpack=lambda folder: extract_zip(data, folder),
    )


def _is_empty(data: bytes | BinaryIO) -> bool:
    if isinstance(data, bytes):
        return not data
    empty = data.seek(0, os.SEEK_END) == 0
    data.seek(0)
    return empty


def create_submission_from_files(
    session: Session,
    *,
    settings: Settings,
    course: Course,
    user: User,
    exercise_slug: str,
    files: dict[str, str],
) -> Submission:
    """Write files sent as text (browser editor, JSON API), then persist and queue them."""
    files = {name: text.replace("\r\n", "\n") for name, text in files.items()}
    blank = [name for name in REQUIRED_FILES if not files.get(name, "").strip()]
    if blank:
        raise SubmissionRefused(
            f"{' and '.join(blank)} {'is' if len(blank) == 1 else 'are'} empty. train.py trains "
            "and saves the model; main.py defines `app`. Start from the starter if unsure."
        )
    if not files.get("requirements.txt", "x").strip():
        files.pop("requirements.txt")
    total = sum(len(text.encode("utf-8", "surrogatepass")) for text in files.values())
    if total > MAX_COMPRESSED:
        raise SubmissionRefused(
            f"The files add up to {total / 2**20:.1f} MiB; the limit is "
            f"{MAX_COMPRESSED // 2**20} MiB. Leave data and trained models out.",
            413,
        )

    def unpack(folder: Path) -> list[str]:
        try:
            return write_files(files, folder)
        except UnicodeEncodeError:
            raise ArchiveError("The files contain text that is not valid UTF-8.") from None

    return _accept(
        session,
        settings=settings,
        course=course,
        user=user,
        exercise_slug=exercise_slug,
        unpack=unpack,
    )


MAX_SHOWN_FILE_BYTES = 200_000


@dataclass(frozen=True)
class SubmittedFile:
    name: str
    size: int
    text: str | None  # None when too large to show or not UTF-8 text


def submitted_files(submission: Submission, *, settings: Settings) -> list[SubmittedFile]:
    """The files the learner sent, for the instructor's view (only inside submissions_dir)."""
    root = Path(submission.source_dir)
    base = settings.submissions_dir.resolve()
    if not root.is_dir() or not root.resolve().is_relative_to(base):
        return []
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        text = None
        if size <= MAX_SHOWN_FILE_BYTES:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                text = None
        files.append(SubmittedFile(path.relative_to(root).as_posix(), size, text))
    return files


def visible_submission(session: Session, *, user: User, submission_id: int) -> Submission | None:
    """The submission if `user` may see it (their own, or any for instructors), else None."""
    submission = queue.get_submission(session, submission_id=submission_id)
    if submission is None:
        return None
    if submission.user_id != user.id and not user.is_instructor:
        return None
    return submission


def list_submissions(
    session: Session, *, user_id: int | None = None, exercise_slug: str | None = None
) -> list[Submission]:
    """Newest first, filtered by owner and/or exercise."""
    stmt = select(Submission).order_by(
        col(Submission.requested_at).desc(), col(Submission.id).desc()
    )
    if user_id is not None:
        stmt = stmt.where(Submission.user_id == user_id)
    if exercise_slug is not None:
        stmt = stmt.where(Submission.exercise_slug == exercise_slug)
    return list(session.exec(stmt).all())


def best_graded(
    submissions: list[Submission], exercises: dict[str, Exercise] | None = None
) -> Submission | None:
    """The highest-scoring graded submission (the latest among equals; input newest first).

    With `exercises`, scores are the ones learners may see (`learner_score`), so the choice
    itself reveals nothing of the final part before the due date.
    """
    graded = [s for s in submissions if s.status == SubmissionStatus.GRADED]
    if exercises is None:
        return max(graded, key=lambda s: s.score or 0, default=None)
    return max(
        graded,
        key=lambda s: learner_score(s, exercises.get(s.exercise_slug))[0] or 0,
        default=None,
    )


def learner_score(
    submission: Submission, exercise: Exercise | None, *, now: datetime | None = None
) -> tuple[float | None, float | None]:
    """(score, max) a learner may see: none before grading; the feedback part's until the due
    date when the exercise splits its hidden data; the grade itself otherwise."""
    if submission.status != SubmissionStatus.GRADED:
        return None, None
    feedback_shown = exercise is None or not exercise.is_past_due(now)
    if submission.feedback_score is not None and feedback_shown:
        return submission.feedback_score, submission.feedback_max_score
    return submission.score, submission.max_score


def full_result(submission: Submission) -> ResultDocument | None:
    """The stored result document (instructors only), or None before grading."""
    if not submission.result_json:
        return None
    try:
        return parse_result(submission.result_json)
    except ResultError:
        return None


def learner_result(
    submission: Submission, exercise: Exercise | None, *, now: datetime | None = None
) -> ResultDocument | None:
    """What the learner may see: `learner_view`, with after_due checks once past the due date."""
    doc = full_result(submission)
    if doc is None:
        return None
    return learner_view(doc, due=exercise.due if exercise else None, now=now)


def learner_log_excerpt(submission: Submission) -> str:
    """The log excerpt, shown to the learner only when their code failed.

    A failure happens while training or starting, before any hidden request was sent, so
    that output holds nothing secret. After grading, the service's log may echo the hidden
    requests (holdout rows) it received; on a platform error it holds the platform's
    diagnostics. Both are for instructors only.
    """
    if submission.status == SubmissionStatus.FAILED:
        return submission.log_excerpt or ""
    return ""


# The phases a learner's own code takes (the rest is platform overhead, for instructors).
LEARNER_PHASES = {"train": "Training", "startup": "Start-up", "test": "Checks"}


def learner_phase_seconds(submission: Submission) -> dict[str, float]:
    """Seconds per learner-facing phase, keyed by its label."""
    seconds = phase_seconds(submission)
    return {label: seconds[key] for key, label in LEARNER_PHASES.items() if key in seconds}


def phase_seconds(submission: Submission) -> dict[str, float]:
    """Every recorded phase, platform steps included (instructors' view and the API)."""
    if not submission.phase_seconds_json:
        return {}
    try:
        data = json.loads(submission.phase_seconds_json)
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


@dataclass(frozen=True)
class TimelineStep:
    status: str
    at: datetime
    detail: str


def timeline(session: Session, *, submission_id: int, with_details: bool) -> list[TimelineStep]:
    """Stored transitions, oldest first; details (worker names, platform errors) for instructors."""
    return [
        TimelineStep(event.status, event.at, event.detail if with_details else "")
        for event in queue.get_events(session, submission_id=submission_id)
    ]


def queue_position(session: Session, *, submission: Submission) -> int | None:
    """How many queued submissions are ahead of this one (None when it is not queued)."""
    if submission.status != SubmissionStatus.QUEUED or submission.queued_at is None:
        return None
    stmt = (
        select(func.count())
        .select_from(Submission)
        .where(Submission.status == SubmissionStatus.QUEUED)
        .where(col(Submission.queued_at) < submission.queued_at)
    )
    return int(session.exec(stmt).one())


def regrade(session: Session, *, submission_id: int, by: User) -> Submission:
    """Queue a finished submission again; refused while it is still queued or running."""
    try:
        return queue.requeue(
            session, submission_id=submission_id, reason=f"regrade requested by {by.email}"
        )
    except queue.QueueError as exc:
        raise SubmissionRefused(f"Cannot regrade: {exc}.", 409) from None


def regrade_exercise(session: Session, *, exercise_slug: str, by: User) -> tuple[int, int]:
    """Queue every finished submission of an exercise again; returns (queued, skipped)."""
    queued = skipped = 0
    for submission in list_submissions(session, exercise_slug=exercise_slug):
        assert submission.id is not None
        if submission.status in ACTIVE_STATUSES:
            skipped += 1
            continue
        regrade(session, submission_id=submission.id, by=by)
        queued += 1
    return queued, skipped
