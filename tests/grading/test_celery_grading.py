"""The celery backend end to end: the flagship reference submitted through the HTTP API of a
web app in celery mode, graded to full marks by two real `servelab worker` processes.

Real redis-server, PostgreSQL, Celery workers and Docker; the web app runs no worker pool.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from celery_helpers import CeleryWorker, celery_env
from fastapi.testclient import TestClient
from grading_helpers import make_learner
from sqlmodel import Session

from redis_server import RedisServer
from servelab.accounts import users as accounts
from servelab.db.migrate import upgrade
from servelab.grading.dispatch import Dispatcher
from servelab.settings import PROJECT_ROOT, Settings

FLAGSHIP = "fastapi-for-ml-apis"
REFERENCE = PROJECT_ROOT / "graders" / FLAGSHIP / "solution"

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def test_two_celery_workers_grade_the_flagship_reference_to_full_marks_through_the_api(
    runtime_image: str, tmp_path: Path, postgres_db: str, redis_server: RedisServer
) -> None:
    settings = Settings(
        environment="test",
        var_dir=tmp_path / "var",
        database_url=postgres_db,
        queue_backend="celery",
        redis_url=redis_server.url,
    )
    upgrade(settings)
    env = celery_env(settings, redis_server.url, SERVELAB_JOB_LEASE_SECONDS="30")
    workers = [CeleryWorker(env, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    try:
        for worker in workers:
            worker.wait_ready()
        from servelab.web.app import create_app

        app = create_app(settings)
        files = {p.name: p.read_text() for p in REFERENCE.glob("*.py")}
        with TestClient(app) as client:
            assert isinstance(app.state.grading_pool, Dispatcher)
            with Session(app.state.engine) as session:
                learner = make_learner(session)
                auth = {
                    "Authorization": f"Bearer {accounts.create_api_token(session, user=learner)}"
                }
            started = time.monotonic()
            locations = []
            for _ in range(2):
                r = client.post(
                    "/api/v1/submissions", json={"exercise": FLAGSHIP, "files": files}, headers=auth
                )
                assert r.status_code == 201, r.text
                locations.append(r.headers["location"])
            results = {}
            deadline = time.monotonic() + 300
            while len(results) < len(locations) and time.monotonic() < deadline:
                for location in locations:
                    body = client.get(location, headers=auth).json()
                    if body["final"] and location not in results:
                        results[location] = (body, time.monotonic() - started)
                time.sleep(0.5)
        assert len(results) == 2, results
        for body, seconds in results.values():
            print(
                f"\n{body['id']}: {body['status']} {body['score']}/{body['max_score']} "
                f"after {seconds:.1f} s"
            )
            assert body["status"] == "graded", body
            assert body["score"] == body["max_score"] and body["max_score"] > 0
        with Session(app.state.engine) as session:
            from servelab.db.models.grading import Submission

            graders = {
                session.get(Submission, body["id"]).worker_id for body, _ in results.values()
            }  # type: ignore[union-attr]
        owners = {n for n, worker in enumerate(workers) for w in graders if worker.owns(w)}
        assert owners == {0, 1}, graders  # each worker graded one, at the same time
    finally:
        for worker in workers:
            worker.close()
