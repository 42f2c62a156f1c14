"""The celery backend under faults, with real redis-server, PostgreSQL, Celery workers, Docker.

Each test starts its own Redis (loopback, no persistence) and `servelab worker` processes in
celery mode on a PostgreSQL database of its own, and grades the tiny fixture exercise for real.
Leases are short (3 s) so a dead worker's job comes back within the test.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery_helpers import (
    CeleryWorker,
    celery_env,
    enqueue,
    final_events,
    row,
    slow_submission,
    wait_for,
)
from grading_helpers import SOLUTION, course_settings, make_learner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from redis_server import RedisServer
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import queue
from servelab.grading.celery_app import GRADING_QUEUE
from servelab.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@dataclass
class Stack:
    """Redis, a migrated PostgreSQL database and the workers a test started."""

    tmp: Path
    redis: RedisServer
    settings: Settings
    engine: Engine
    user_id: int
    workers: list[CeleryWorker] = field(default_factory=list)

    def worker(self, name: str, **env: str) -> CeleryWorker:
        started = CeleryWorker(
            celery_env(self.settings, self.redis.url, **env), self.tmp / f"worker-{name}.log"
        )
        self.workers.append(started)
        started.wait_ready()
        return started

    def submit(self, source: Path) -> int:
        return enqueue(self.engine, self.user_id, source)


@pytest.fixture
def stack(runtime_image: str, tmp_path: Path, postgres_db: str) -> Iterator[Stack]:
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    settings = course_settings(tmp_path / "var", database_url=postgres_db)
    upgrade(settings)
    engine = make_engine(settings)
    with Session(engine) as session:
        user = make_learner(session)
        assert user.id is not None
    built = Stack(tmp_path, redis_server, settings, engine, user.id)
    try:
        yield built
    finally:
        for worker in built.workers:
            worker.close()
        redis_server.stop()
        engine.dispose()


def _leftover_containers(owner: str) -> list[object]:
    import docker

    from servelab.grading.orphans import OWNER_LABEL

    client = docker.from_env()
    return list(client.containers.list(all=True, filters={"label": f"{OWNER_LABEL}={owner}"}))


def test_a_worker_killed_mid_grading_is_replaced_and_one_result_is_stored(stack: Stack) -> None:
    first = stack.worker("first")
    sid = stack.submit(slow_submission(stack.tmp / "slow"))
    running = wait_for(stack.engine, sid, {SubmissionStatus.TRAINING}, timeout=120)
    assert first.owns(running.worker_id)
    second = stack.worker("second")
    first.kill_all()  # the whole worker, as when its host dies: no redelivery, only the lease

    done = wait_for(stack.engine, sid)
    assert (done.status, done.score, done.max_score, done.attempts) == ("graded", 8, 8, 2)
    assert second.owns(done.worker_id)
    assert final_events(stack.engine, sid) == ["graded"]
    with Session(stack.engine) as session:
        details = [e.detail for e in queue.get_events(session, submission_id=sid)]
    assert any("stopped responding" in d for d in details), details
    # The killed worker's containers are orphans of a dead owner, for the next sweep.
    dead_owner = (running.worker_id or "").rsplit(":", 2)[0]
    left = _leftover_containers(dead_owner)
    print(f"\nkilled worker left {len(left)} container(s)")
    from servelab.grading.orphans import remove_container

    for container in left:
        remove_container(container)  # type: ignore[arg-type]


def test_a_grading_process_killed_mid_grading_is_delivered_again_at_once(stack: Stack) -> None:
    """reject_on_worker_lost: the message comes back when its pool process dies, and the new
    delivery takes the job over without waiting for the (here two-minute) lease."""
    worker = stack.worker("only", SERVELAB_JOB_LEASE_SECONDS="120")
    sid = stack.submit(slow_submission(stack.tmp / "slow"))
    running = wait_for(stack.engine, sid, {SubmissionStatus.TRAINING}, timeout=120)
    assert worker.owns(running.worker_id)
    os.kill(int((running.worker_id or "").split(":")[1]), signal.SIGKILL)

    done = wait_for(stack.engine, sid, timeout=100)  # less than the lease: not the watchdog
    assert (done.status, done.score, done.attempts) == ("graded", 8, 2)
    assert final_events(stack.engine, sid) == ["graded"]
    with Session(stack.engine) as session:
        details = [e.detail for e in queue.get_events(session, submission_id=sid)]
    assert any("delivered again" in d for d in details), details
    assert worker.stop() == 0


def test_redis_restarted_with_submissions_queued_loses_none(stack: Stack) -> None:
    worker = stack.worker("only")
    ids = [stack.submit(slow_submission(stack.tmp / "slow"))]
    ids += [stack.submit(SOLUTION) for _ in range(2)]
    wait_for(stack.engine, ids[0], {SubmissionStatus.TRAINING}, timeout=120)
    print(f"\nmessages in Redis before the restart: {stack.redis.queued_messages(GRADING_QUEUE)}")
    stack.redis.stop()  # no persistence: every message it held is gone
    stack.redis.start()
    print(f"messages in Redis after the restart: {stack.redis.queued_messages(GRADING_QUEUE)}")

    for sid in ids:
        done = wait_for(stack.engine, sid)
        assert (done.status, done.score) == ("graded", 8), sid
        assert final_events(stack.engine, sid) == ["graded"], sid
    assert worker.stop() == 0


def test_sigterm_finishes_the_running_submission_and_leaves_the_rest_queued(
    stack: Stack,
) -> None:
    first = stack.worker("first")
    running_id = stack.submit(slow_submission(stack.tmp / "slow"))
    waiting_id = stack.submit(SOLUTION)
    wait_for(stack.engine, running_id, {SubmissionStatus.TRAINING}, timeout=120)
    assert first.stop(timeout=120) == 0  # a warm shutdown waits for the running grading

    finished = row(stack.engine, running_id)
    assert (finished.status, finished.score, finished.attempts) == ("graded", 8, 1)
    assert row(stack.engine, waiting_id).status == SubmissionStatus.QUEUED
    stack.worker("second")
    done = wait_for(stack.engine, waiting_id)
    assert (done.status, done.score, done.attempts) == ("graded", 8, 1)
    assert final_events(stack.engine, running_id) == ["graded"]
    assert final_events(stack.engine, waiting_id) == ["graded"]
