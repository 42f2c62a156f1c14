"""Jobs come back from stopped workers (grading/recovery.py): watchdog, restart, shutdown."""

from __future__ import annotations

from datetime import timedelta

from queue_helpers import claim_one, enqueue_n, event_statuses, fetch_row, final_outcome
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.db.clock import utcnow
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import queue, recovery


def test_watchdog_fails_over_a_dead_worker_then_errors(engine: Engine, user_id: int) -> None:
    [sid] = enqueue_n(engine, user_id)
    first = claim_one(engine, lease=5)
    assert first is not None
    later = utcnow() + timedelta(seconds=10)
    with Session(engine) as session:
        assert recovery.recover_expired(session, max_attempts=2, now=utcnow()) == []
        assert recovery.recover_expired(session, max_attempts=2, now=later) == [
            (sid, SubmissionStatus.QUEUED)
        ]
        # the first worker wakes up: its writes are refused, it cannot clobber the retry
        assert not queue.record_phase(session, first, SubmissionStatus.TRAINING)
        assert not queue.complete(session, first, final_outcome(), finished_at=utcnow())
    second = claim_one(engine, lease=5)
    assert second is not None and second.attempts == 2
    with Session(engine) as session:
        assert recovery.recover_expired(session, max_attempts=2, now=later) == [
            (sid, SubmissionStatus.ERROR)
        ]
    row = fetch_row(engine, sid)
    assert row.status == SubmissionStatus.ERROR
    assert "problem on our side" in (row.learner_message or "")
    assert row.graded_at is not None
    assert event_statuses(engine, sid) == ["queued", "received", "queued", "received", "error"]


def test_hard_deadline_applies_even_with_a_fresh_lease(engine: Engine, user_id: int) -> None:
    [sid] = enqueue_n(engine, user_id)
    claim = claim_one(engine, lease=3600, deadline=60)
    assert claim is not None
    with Session(engine) as session:
        assert queue.heartbeat(session, claim, lease_seconds=3600)
        recovered = recovery.recover_expired(
            session, max_attempts=2, now=utcnow() + timedelta(seconds=61)
        )
        events = queue.get_events(session, submission_id=sid)
    assert recovered == [(sid, SubmissionStatus.QUEUED)]
    assert "hard deadline" in events[-1].detail


def test_resume_after_restart_and_release_on_shutdown(engine: Engine, user_id: int) -> None:
    a, b, c = enqueue_n(engine, user_id, 3)
    assert claim_one(engine, worker="dead:1") is not None
    assert claim_one(engine, worker="alive:1") is not None
    assert claim_one(engine, worker="stopping:1") is not None
    with Session(engine) as session:
        resumed = recovery.recover_interrupted(
            session, is_dead=lambda worker: worker.startswith("dead"), max_attempts=2
        )
        released = recovery.release_claims(session, worker_id="stopping:1")
    assert resumed == [(a, SubmissionStatus.QUEUED)]
    assert released == 1
    assert [fetch_row(engine, sid).status for sid in (a, b, c)] == ["queued", "preparing", "queued"]
    assert fetch_row(engine, c).attempts == 0  # a drain-time release does not use up an attempt


def test_a_redelivered_job_is_taken_over_only_when_its_worker_is_gone(
    engine: Engine, user_id: int
) -> None:
    [sid] = enqueue_n(engine, user_id)
    held = claim_one(engine, worker="alive", lease=30)
    assert held is not None
    with Session(engine) as session:

        def abandoned(is_dead, now=None):  # type: ignore[no-untyped-def]
            return recovery.recover_abandoned(
                session, submission_id=sid, is_dead=is_dead, max_attempts=3, now=now
            )

        # a duplicate message while a live worker grades it: left alone
        assert abandoned(lambda _w: False) == SubmissionStatus.PREPARING
        assert fetch_row(engine, sid).lease_token == held.token
        # its worker is known dead: queued again at once, the dead claim's writes refused
        assert abandoned(lambda w: w == "alive") == SubmissionStatus.QUEUED
        assert not queue.complete(session, held, final_outcome(), finished_at=utcnow())
        # a worker elsewhere that stopped renewing its lease: taken over once it expired
        second = claim_one(engine, worker="elsewhere", lease=5)
        assert second is not None
        assert abandoned(lambda _w: False) == SubmissionStatus.PREPARING
        later = utcnow() + timedelta(seconds=10)
        assert abandoned(lambda _w: False, now=later) == SubmissionStatus.QUEUED
        third = claim_one(engine)
        assert third is not None and third.attempts == 3
        assert queue.complete(session, third, final_outcome(), finished_at=utcnow())
        assert abandoned(lambda _w: True) == SubmissionStatus.GRADED  # final: nothing to do
        assert (
            recovery.recover_abandoned(
                session, submission_id=9999, is_dead=lambda _w: True, max_attempts=3
            )
            is None
        )
    assert event_statuses(engine, sid).count("graded") == 1


def test_a_job_that_keeps_killing_its_workers_is_dead_lettered(
    engine: Engine, user_id: int
) -> None:
    [sid] = enqueue_n(engine, user_id)
    with Session(engine) as session:
        for _ in range(2):
            assert claim_one(engine, worker="killed") is not None
            status = recovery.recover_abandoned(
                session, submission_id=sid, is_dead=lambda _w: True, max_attempts=2
            )
    assert status == SubmissionStatus.ERROR
    row = fetch_row(engine, sid)
    assert row.attempts == 2 and "its worker stopped" in (row.log_excerpt or "")
