"""The outbox that hands queued submissions to the Celery broker (grading/dispatch.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from queue_helpers import claim_one, enqueue_n, fetch_row, final_outcome
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from servelab.db.clock import utcnow
from servelab.db.models.grading import Submission
from servelab.grading import dispatch, queue


def _pass(engine: Engine, sent: list[int], redispatch: float = 300) -> list[int]:
    with Session(engine) as session:
        return dispatch.dispatch_queued(session, send=sent.append, redispatch_seconds=redispatch)


def test_each_queued_submission_is_sent_once_until_it_is_queued_again(
    engine: Engine, user_id: int
) -> None:
    first, second = enqueue_n(engine, user_id, 2)
    sent: list[int] = []
    assert _pass(engine, sent) == [first, second]
    assert _pass(engine, sent) == []  # still waiting in the broker: no duplicate
    assert sent == [first, second]
    assert fetch_row(engine, first).dispatched_at is not None

    claim = claim_one(engine)
    assert claim is not None and claim.submission_id == first
    assert _pass(engine, sent) == []  # running: not queued, never sent
    with Session(engine) as session:  # a platform failure queues it again: sent again
        queue.fail_over(session, claim, detail="docker went away", max_attempts=2)
    assert _pass(engine, sent) == [first]

    with Session(engine) as session:
        retry = queue.claim_submission(
            session,
            submission_id=first,
            worker_id="w",
            lease_seconds=30,
            deadline_seconds=lambda _slug: 300,
        )
        assert retry is not None
        assert queue.complete(session, retry, final_outcome(), finished_at=utcnow())
        queue.requeue(session, submission_id=first)  # a regrade
    assert _pass(engine, sent) == [first]
    assert sent == [first, second, first, first]


def test_a_message_the_broker_lost_is_sent_again_after_the_redispatch_time(
    engine: Engine, user_id: int
) -> None:
    [sid] = enqueue_n(engine, user_id)
    sent: list[int] = []
    assert _pass(engine, sent, redispatch=60) == [sid]
    assert _pass(engine, sent, redispatch=60) == []
    with Session(engine) as session:  # as if it was sent two minutes ago and Redis lost it
        session.exec(
            update(Submission)
            .where(col(Submission.id) == sid)
            .values(dispatched_at=utcnow() - timedelta(seconds=120))
        )
        session.commit()
    assert _pass(engine, sent, redispatch=60) == [sid]
    assert sent == [sid, sid]


def test_a_refused_send_keeps_it_queued_and_unsent_for_the_next_pass(
    engine: Engine, user_id: int
) -> None:
    first, second = enqueue_n(engine, user_id, 2)

    def broker_down(_submission_id: int) -> None:
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:6379")

    with Session(engine) as session, pytest.raises(dispatch.BrokerUnavailable, match="refused"):
        dispatch.dispatch_queued(session, send=broker_down, redispatch_seconds=300)
    row = fetch_row(engine, first)
    assert row.status == "queued" and row.dispatched_at is None
    sent: list[int] = []
    assert _pass(engine, sent) == [first, second]


def test_two_dispatchers_at_once_send_each_submission_once(engine: Engine, user_id: int) -> None:
    ids = enqueue_n(engine, user_id, 3)
    sent: list[int] = []
    with Session(engine) as one, Session(engine) as other:

        def send_and_race(submission_id: int) -> None:
            sent.append(submission_id)
            # the other dispatcher runs its whole pass while this one is sending
            dispatch.dispatch_queued(other, send=sent.append, redispatch_seconds=300)

        dispatch.dispatch_queued(one, send=send_and_race, redispatch_seconds=300)
    assert sorted(sent) == ids
