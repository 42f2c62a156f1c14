"""`servelab worker` in celery mode, without Docker: the task, its retries and the dead letter.

Real redis-server, PostgreSQL and Celery worker processes. The workers are given a Docker
endpoint that does not exist, so every grading fails for a platform reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery_helpers import CeleryWorker, RedisServer, celery_env, enqueue, final_events, wait_for
from grading_helpers import SOLUTION, course_settings, make_learner
from sqlmodel import Session

from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import queue

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def workers() -> Iterator[list[CeleryWorker]]:
    started: list[CeleryWorker] = []
    yield started
    for worker in started:
        worker.close()


def test_a_submission_that_keeps_failing_for_platform_reasons_is_dead_lettered(
    tmp_path: Path, postgres_db: str, redis_server: RedisServer, workers: list[CeleryWorker]
) -> None:
    settings = course_settings(tmp_path / "var", database_url=postgres_db)
    upgrade(settings)
    engine = make_engine(settings)
    try:
        with Session(engine) as session:
            user = make_learner(session)
            assert user.id is not None
        no_docker = f"unix://{tmp_path}/no-docker.sock"
        env = celery_env(settings, redis_server.url, DOCKER_HOST=no_docker)
        for name in ("one", "two"):
            workers.append(CeleryWorker(env, tmp_path / f"worker-{name}.log"))
        for worker in workers:
            worker.wait_ready()
        sid = enqueue(settings, engine, user.id, SOLUTION)

        done = wait_for(engine, sid, timeout=90)
        assert (done.status, done.attempts) == (SubmissionStatus.ERROR, settings.job_attempts)
        assert "problem on our side, not in your code" in (done.learner_message or "")
        assert done.log_excerpt
        with Session(engine) as session:
            statuses = [e.status for e in queue.get_events(session, submission_id=sid)]
        assert statuses.count("received") == settings.job_attempts
        assert final_events(engine, sid) == ["error"]
        for worker in workers:
            assert worker.stop(timeout=60) == 0, worker.output()
    finally:
        engine.dispose()
