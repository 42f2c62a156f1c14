"""`servelab worker` in celery mode: platform failures, the dead letter, Docker away and back.

Real redis-server, PostgreSQL and Celery worker processes; Docker is only pinged here (no
container starts): one exercise has left the course, and one worker is pointed at a Docker
socket path that exists only once the test links it to the real engine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery_helpers import CeleryWorker, celery_env, enqueue, final_events, wait_for
from grading_helpers import SOLUTION, course_settings, make_learner
from sqlalchemy.engine import Engine
from sqlmodel import Session

from redis_server import RedisServer
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import queue
from servelab.settings import Settings

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis]
DOCKER_SOCKET = Path("/var/run/docker.sock")


@pytest.fixture
def database(
    runtime_image: str, tmp_path: Path, postgres_db: str
) -> Iterator[tuple[Settings, Engine, int]]:
    settings = course_settings(tmp_path / "var", database_url=postgres_db)
    upgrade(settings)
    engine = make_engine(settings)
    with Session(engine) as session:
        user = make_learner(session)
        assert user.id is not None
    yield settings, engine, user.id
    engine.dispose()


@pytest.fixture
def workers() -> Iterator[list[CeleryWorker]]:
    started: list[CeleryWorker] = []
    yield started
    for worker in started:
        worker.close()


def _details(engine: Engine, submission_id: int) -> list[str]:
    with Session(engine) as session:
        return [e.detail for e in queue.get_events(session, submission_id=submission_id)]


def test_a_submission_that_keeps_failing_for_platform_reasons_is_dead_lettered(
    tmp_path: Path,
    database: tuple[Settings, Engine, int],
    redis_server: RedisServer,
    workers: list[CeleryWorker],
) -> None:
    settings, engine, user_id = database
    env = celery_env(settings, redis_server.url)
    for name in ("one", "two"):
        workers.append(CeleryWorker(env, tmp_path / f"worker-{name}.log"))
    for worker in workers:
        worker.wait_ready()
    sid = enqueue(engine, user_id, SOLUTION, slug="left-the-course")

    done = wait_for(engine, sid, timeout=90)
    assert (done.status, done.attempts) == (SubmissionStatus.ERROR, settings.job_attempts)
    assert "problem on our side, not in your code" in (done.learner_message or "")
    assert "no exercise called 'left-the-course'" in (done.log_excerpt or "")
    assert final_events(engine, sid) == ["error"]
    for worker in workers:
        assert worker.stop(timeout=60) == 0, worker.output()


@pytest.mark.slow
def test_a_worker_without_docker_holds_nothing_says_why_and_grades_once_it_returns(
    tmp_path: Path,
    database: tuple[Settings, Engine, int],
    redis_server: RedisServer,
    workers: list[CeleryWorker],
) -> None:
    settings, engine, user_id = database
    socket_link = tmp_path / "docker.sock"  # absent: this worker's engine is away
    env = celery_env(settings, redis_server.url, DOCKER_HOST=f"unix://{socket_link}")
    workers.append(CeleryWorker(env, tmp_path / "worker.log"))
    workers[0].wait_ready()
    sid = enqueue(engine, user_id, SOLUTION)
    deadline = time.monotonic() + 60
    while not any("waiting for a worker" in d for d in _details(engine, sid)):
        assert time.monotonic() < deadline, workers[0].output()
        time.sleep(0.2)
    time.sleep(12)  # at least one more hand-back while the engine is still away
    waiting = wait_for(engine, sid, {SubmissionStatus.QUEUED}, timeout=1)
    assert waiting.attempts == 0  # an engine away costs the submission no attempt
    notes = [d for d in _details(engine, sid) if "waiting for a worker" in d]
    assert len(notes) == 1 and "Docker engine" in notes[0] and "does not answer" in notes[0]

    os.symlink(DOCKER_SOCKET, socket_link)  # the engine returns
    done = wait_for(engine, sid, timeout=180)
    assert (done.status, done.score, done.attempts) == ("graded", 8, 1)
    assert final_events(engine, sid) == ["graded"]
    assert workers[0].stop(timeout=60) == 0
