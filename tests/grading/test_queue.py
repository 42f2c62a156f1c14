"""The durable queue: claims, leases, the watchdog, retries and resume, on a real database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from grading_helpers import make_learner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.db.clock import utcnow
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import ResultDocument
from servelab.settings import Settings


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Engine]:
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_db")
        settings = settings.model_copy(update={"database_url": database_url})
    upgrade(settings)
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def user_id(engine: Engine) -> int:
    with Session(engine) as session:
        user = make_learner(session)
        assert user.id is not None
        return user.id


def _enqueue(engine: Engine, user_id: int, n: int = 1) -> list[int]:
    ids = []
    with Session(engine) as session:
        for i in range(n):
            row = queue.enqueue_submission(
                session, user_id=user_id, exercise_slug="tiny-regression", source_dir=f"/s/{i}"
            )
            assert row.id is not None
            ids.append(row.id)
    return ids


def _claim(engine: Engine, worker: str = "w", lease: float = 30, deadline: float = 300):  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return queue.claim_next(
            session, worker_id=worker, lease_seconds=lease, deadline_seconds=lambda _: deadline
        )


def _row(engine: Engine, submission_id: int) -> Submission:
    with Session(engine) as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        return row


def _statuses(engine: Engine, submission_id: int) -> list[str]:
    with Session(engine) as session:
        return [e.status for e in queue.get_events(session, submission_id=submission_id)]


def _final(status: SubmissionStatus = SubmissionStatus.GRADED) -> GradeOutcome:
    result = ResultDocument(score=3, max_score=8) if status == SubmissionStatus.GRADED else None
    return GradeOutcome(status, result, "Graded: 3 of 8", "", {"train": 1.0})


def test_enqueue_persists_before_any_worker(engine: Engine, user_id: int) -> None:
    [sid] = _enqueue(engine, user_id)
    row = _row(engine, sid)
    assert row.status == SubmissionStatus.QUEUED
    assert row.requested_at is not None and row.queued_at is not None
    assert _statuses(engine, sid) == ["queued"]
    with Session(engine) as session:
        assert queue.queued_count(session) == 1


def test_claims_are_exclusive_under_concurrency(engine: Engine, user_id: int) -> None:
    ids = _enqueue(engine, user_id, 12)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (claim := _claim(engine, worker=name)) is not None:
            with lock:
                claimed.append(claim.submission_id)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == ids  # every job claimed exactly once
    assert {_row(engine, sid).attempts for sid in ids} == {1}


def test_claim_records_the_six_timestamps_and_transitions(engine: Engine, user_id: int) -> None:
    [sid] = _enqueue(engine, user_id)
    claim = _claim(engine)
    assert claim is not None and claim.attempts == 1
    with Session(engine) as session:
        for status in (
            SubmissionStatus.PREPARING,
            SubmissionStatus.TRAINING,
            SubmissionStatus.STARTING,
            SubmissionStatus.TESTING,
        ):
            assert queue.record_phase(session, claim, status)
        assert queue.complete(session, claim, _final(), finished_at=utcnow())
    row = _row(engine, sid)
    stamps = [
        row.requested_at,
        row.queued_at,
        row.received_at,
        row.started_at,
        row.finished_at,
        row.graded_at,
    ]
    assert all(stamps) and stamps == sorted(stamps)  # type: ignore[type-var]
    assert (row.status, row.score, row.max_score, row.lease_token) == ("graded", 3, 8, None)
    assert _statuses(engine, sid) == [
        "queued", "received", "preparing", "training", "starting", "testing", "graded",
    ]  # fmt: skip


def test_watchdog_fails_over_a_dead_worker_then_errors(engine: Engine, user_id: int) -> None:
    [sid] = _enqueue(engine, user_id)
    first = _claim(engine, lease=5)
    assert first is not None
    later = utcnow() + timedelta(seconds=10)
    with Session(engine) as session:
        assert queue.recover_expired(session, max_attempts=2, now=utcnow()) == []
        assert queue.recover_expired(session, max_attempts=2, now=later) == [
            (sid, SubmissionStatus.QUEUED)
        ]
        # the first worker wakes up: its writes are refused, it cannot clobber the retry
        assert not queue.record_phase(session, first, SubmissionStatus.TRAINING)
        assert not queue.complete(session, first, _final(), finished_at=utcnow())
    second = _claim(engine, lease=5)
    assert second is not None and second.attempts == 2
    with Session(engine) as session:
        assert queue.recover_expired(session, max_attempts=2, now=later) == [
            (sid, SubmissionStatus.ERROR)
        ]
    row = _row(engine, sid)
    assert row.status == SubmissionStatus.ERROR
    assert "problem on our side" in (row.learner_message or "")
    assert row.graded_at is not None
    assert _statuses(engine, sid) == ["queued", "received", "queued", "received", "error"]


def test_hard_deadline_applies_even_with_a_fresh_lease(engine: Engine, user_id: int) -> None:
    [sid] = _enqueue(engine, user_id)
    claim = _claim(engine, lease=3600, deadline=60)
    assert claim is not None
    with Session(engine) as session:
        assert queue.heartbeat(session, claim, lease_seconds=3600)
        recovered = queue.recover_expired(
            session, max_attempts=2, now=utcnow() + timedelta(seconds=61)
        )
        events = queue.get_events(session, submission_id=sid)
    assert recovered == [(sid, SubmissionStatus.QUEUED)]
    assert "hard deadline" in events[-1].detail


def test_platform_error_retries_and_a_rerun_replaces_the_result(
    engine: Engine, user_id: int
) -> None:
    [sid] = _enqueue(engine, user_id)
    claim = _claim(engine)
    assert claim is not None
    with Session(engine) as session:
        status = queue.fail_over(session, claim, detail="docker went away", max_attempts=2)
    assert status == SubmissionStatus.QUEUED
    retry = _claim(engine)
    assert retry is not None
    with Session(engine) as session:
        assert queue.complete(session, retry, _final(SubmissionStatus.FAILED), finished_at=utcnow())
        queue.requeue(session, submission_id=sid)
    regrade = _claim(engine)
    assert regrade is not None and regrade.attempts == 1  # a regrade starts afresh
    with Session(engine) as session:
        assert queue.complete(session, regrade, _final(), finished_at=utcnow())
    assert _row(engine, sid).status == SubmissionStatus.GRADED


def test_requeue_refuses_queued_running_and_unknown(engine: Engine, user_id: int) -> None:
    [sid] = _enqueue(engine, user_id)
    with Session(engine) as session:
        with pytest.raises(queue.QueueError, match="already queued"):
            queue.requeue(session, submission_id=sid)
        with pytest.raises(queue.QueueError, match="does not exist"):
            queue.requeue(session, submission_id=9999)
    assert _claim(engine) is not None
    with Session(engine) as session, pytest.raises(queue.QueueError, match="already preparing"):
        queue.requeue(session, submission_id=sid)


def test_resume_after_restart_and_release_on_shutdown(engine: Engine, user_id: int) -> None:
    a, b, c = _enqueue(engine, user_id, 3)
    assert _claim(engine, worker="dead:1") is not None
    assert _claim(engine, worker="alive:1") is not None
    assert _claim(engine, worker="stopping:1") is not None
    with Session(engine) as session:
        resumed = queue.recover_interrupted(
            session, is_dead=lambda worker: worker.startswith("dead"), max_attempts=2
        )
        released = queue.release_claims(session, worker_id="stopping:1")
    assert resumed == [(a, SubmissionStatus.QUEUED)]
    assert released == 1
    assert [_row(engine, sid).status for sid in (a, b, c)] == ["queued", "preparing", "queued"]
    assert _row(engine, c).attempts == 0  # a drain-time release does not use up an attempt


def test_migration_matches_the_grading_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert [d for d in diff if "submission" in str(d)] == []
