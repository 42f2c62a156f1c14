"""The celery backend's web side and message (grading/celery_app.py, grading/dispatch.py).

Real Redis, no worker: the web app in celery mode only hands queued submissions to the broker.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from grading_helpers import SOLUTION, course_settings, make_learner
from pydantic import ValidationError
from sqlmodel import Session

from redis_server import RedisServer
from servelab.db.migrate import upgrade
from servelab.db.models.grading import Submission
from servelab.grading import queue
from servelab.grading.celery_app import GRADE_TASK, GRADING_QUEUE, GradeJob, make_celery
from servelab.grading.dispatch import Dispatcher

pytestmark = pytest.mark.redis


def test_the_task_message_names_one_submission_and_nothing_else() -> None:
    assert GradeJob.model_validate({"submission_id": 7}).submission_id == 7
    for bad in ({"submission_id": 0}, {"submission_id": 2**31}, {"submission_id": 7, "x": 1}, {}):
        with pytest.raises(ValidationError):
            GradeJob.model_validate(bad)


def test_the_celery_app_acks_late_requeues_on_a_lost_worker_and_prefetches_one(
    tmp_path: Path,
) -> None:
    conf = make_celery(course_settings(tmp_path / "var")).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_default_queue == GRADING_QUEUE


def test_the_web_app_in_celery_mode_sends_submissions_to_redis_and_grades_nothing(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    settings = course_settings(tmp_path / "var", queue_backend="celery", redis_url=redis_server.url)
    upgrade(settings)
    from servelab.web.app import create_app

    app = create_app(settings)
    with TestClient(app):
        dispatcher = app.state.grading_pool
        assert isinstance(dispatcher, Dispatcher)  # not a WorkerPool: no learner code here
        with Session(app.state.engine) as session:
            user = make_learner(session)
            assert user.id is not None
            sid = queue.enqueue_submission(
                session, user_id=user.id, exercise_slug="tiny-regression", source_dir=str(SOLUTION)
            ).id
        dispatcher.wake()
        for _ in range(100):
            if redis_server.queued_messages(GRADING_QUEUE):
                break
            time.sleep(0.05)
        with Session(app.state.engine) as session:
            row = session.get(Submission, sid)
            assert row is not None and row.status == "queued" and row.dispatched_at is not None
    client = redis.Redis.from_url(redis_server.url)
    try:
        messages = client.lrange(GRADING_QUEUE, 0, -1)
    finally:
        client.close()
    assert len(messages) == 1
    message = json.loads(messages[0])
    assert message["headers"]["task"] == GRADE_TASK
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([], {"submission_id": sid})
