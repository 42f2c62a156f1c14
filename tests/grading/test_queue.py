"""The durable queue: enqueue, exclusive claims, leases, retries, regrades (real databases)."""

from __future__ import annotations

import threading

import pytest
from queue_helpers import claim_one, enqueue_n, event_statuses, fetch_row, final_outcome
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.db.clock import utcnow
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import queue


def test_enqueue_persists_before_any_worker(engine: Engine, user_id: int) -> None:
    [sid] = enqueue_n(engine, user_id)
    row = fetch_row(engine, sid)
    assert row.status == SubmissionStatus.QUEUED
    assert row.requested_at is not None and row.queued_at is not None
    assert event_statuses(engine, sid) == ["queued"]
    with Session(engine) as session:
        assert queue.queued_count(session) == 1


def test_claims_are_exclusive_under_concurrency(engine: Engine, user_id: int) -> None:
    ids = enqueue_n(engine, user_id, 12)
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (claim := claim_one(engine, worker=name)) is not None:
            with lock:
                claimed.append(claim.submission_id)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == ids  # every job claimed exactly once
    assert {fetch_row(engine, sid).attempts for sid in ids} == {1}


def test_claim_records_the_six_timestamps_and_transitions(engine: Engine, user_id: int) -> None:
    [sid] = enqueue_n(engine, user_id)
    claim = claim_one(engine)
    assert claim is not None and claim.attempts == 1
    with Session(engine) as session:
        for status in (
            SubmissionStatus.PREPARING,
            SubmissionStatus.TRAINING,
            SubmissionStatus.STARTING,
            SubmissionStatus.TESTING,
        ):
            assert queue.record_phase(session, claim, status)
        assert queue.complete(session, claim, final_outcome(), finished_at=utcnow())
    row = fetch_row(engine, sid)
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
    assert event_statuses(engine, sid) == [
        "queued", "received", "preparing", "training", "starting", "testing", "graded",
    ]  # fmt: skip


def test_platform_error_retries_and_a_rerun_replaces_the_result(
    engine: Engine, user_id: int
) -> None:
    [sid] = enqueue_n(engine, user_id)
    claim = claim_one(engine)
    assert claim is not None
    with Session(engine) as session:
        status = queue.fail_over(session, claim, detail="docker went away", max_attempts=2)
    assert status == SubmissionStatus.QUEUED
    retry = claim_one(engine)
    assert retry is not None
    with Session(engine) as session:
        assert queue.complete(
            session, retry, final_outcome(SubmissionStatus.FAILED), finished_at=utcnow()
        )
        queue.requeue(session, submission_id=sid)
    regrade = claim_one(engine)
    assert regrade is not None and regrade.attempts == 1  # a regrade starts afresh
    with Session(engine) as session:
        assert queue.complete(session, regrade, final_outcome(), finished_at=utcnow())
    assert fetch_row(engine, sid).status == SubmissionStatus.GRADED


def test_requeue_refuses_queued_running_and_unknown(engine: Engine, user_id: int) -> None:
    [sid] = enqueue_n(engine, user_id)
    with Session(engine) as session:
        with pytest.raises(queue.QueueError, match="already queued"):
            queue.requeue(session, submission_id=sid)
        with pytest.raises(queue.QueueError, match="does not exist"):
            queue.requeue(session, submission_id=9999)
    assert claim_one(engine) is not None
    with Session(engine) as session, pytest.raises(queue.QueueError, match="already preparing"):
        queue.requeue(session, submission_id=sid)


def test_migration_matches_the_grading_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert [d for d in diff if "submission" in str(d)] == []
