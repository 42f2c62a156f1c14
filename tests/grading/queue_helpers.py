"""Plain helpers of the queue and recovery tests (their `engine` fixture is in conftest.py)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import ResultDocument


def enqueue_n(engine: Engine, user_id: int, n: int = 1) -> list[int]:
    ids = []
    with Session(engine) as session:
        for i in range(n):
            row = queue.enqueue_submission(
                session, user_id=user_id, exercise_slug="tiny-regression", source_dir=f"/s/{i}"
            )
            assert row.id is not None
            ids.append(row.id)
    return ids


def claim_one(engine: Engine, worker: str = "w", lease: float = 30, deadline: float = 300):  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return queue.claim_next(
            session, worker_id=worker, lease_seconds=lease, deadline_seconds=lambda _: deadline
        )


def fetch_row(engine: Engine, submission_id: int) -> Submission:
    with Session(engine) as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        return row


def event_statuses(engine: Engine, submission_id: int) -> list[str]:
    with Session(engine) as session:
        return [e.status for e in queue.get_events(session, submission_id=submission_id)]


def final_outcome(status: SubmissionStatus = SubmissionStatus.GRADED) -> GradeOutcome:
    result = ResultDocument(score=3, max_score=8) if status == SubmissionStatus.GRADED else None
    return GradeOutcome(status, result, "Graded: 3 of 8", "", {"train": 1.0})
