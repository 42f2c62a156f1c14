"""PostgreSQL briefly unavailable, with a web app and a Celery worker on it: real PostgreSQL
(a cluster of this test alone, stopped and started again), Redis, Celery and Docker.

While the database is away the web app answers 503 with a clear message and stores nothing
half-way; the worker hands its messages back and the job it was grading comes back through its
lease; once the database returns, everything grades, each submission exactly once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from celery_helpers import CeleryWorker, celery_env, final_events, row, slow_submission, wait_for
from fastapi.testclient import TestClient
from grading_helpers import SOLUTION, course_settings
from sqlmodel import Session, select

from postgres_server import PostgresServer
from redis_server import RedisServer
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models import Role
from servelab.db.models.grading import Submission, SubmissionStatus
from support import PASSWORD, login

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SLUG = "tiny-regression"


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.py"))}


def test_postgresql_briefly_unavailable_answers_503_loses_nothing_and_workers_resume(
    runtime_image: str, tmp_path: Path
) -> None:
    postgres = PostgresServer()
    redis_server = RedisServer(tmp_path / "redis")
    worker: CeleryWorker | None = None
    try:
        postgres.start()
        redis_server.start()
        settings = course_settings(
            tmp_path / "var",
            database_url=postgres.url,
            queue_backend="celery",
            redis_url=redis_server.url,
        )
        upgrade(settings)
        worker = CeleryWorker(celery_env(settings, redis_server.url), tmp_path / "worker.log")
        worker.wait_ready()
        engine = make_engine(settings)
        from servelab.web.app import create_app

        app = create_app(settings)
        with TestClient(app) as client:
            with Session(app.state.engine) as session:
                learner = accounts.create_user(
                    session, email="learner@example.org", password=PASSWORD, role=Role.LEARNER
                )
                token = accounts.create_api_token(session, user=learner)
                login(client, learner)  # the browser's session too
            auth = {"Authorization": f"Bearer {token}"}

            def submit(files: dict[str, str]):  # type: ignore[no-untyped-def]
                body = {"exercise": SLUG, "files": files}
                return client.post("/api/v1/submissions", json=body, headers=auth)

            sent = submit(_files(slow_submission(tmp_path / "slow")))
            assert sent.status_code == 201, sent.text
            in_flight = sent.json()["id"]
            wait_for(engine, in_flight, {SubmissionStatus.TRAINING}, timeout=120)
            stored_folders = sorted(settings.submissions_dir.iterdir())

            postgres.stop()  # every connection dropped at once, mid-grading
            refused = submit(_files(SOLUTION))
            assert refused.status_code == 503, refused.text
            assert "cannot reach its database" in refused.json()["detail"]
            assert "nothing was saved" in refused.json()["detail"]
            assert refused.headers["retry-after"] == "30"
            page = client.get("/", headers={"accept": "text/html"})
            assert page.status_code == 503 and "cannot reach its database" in page.text
            # The refused upload left no folder behind.
            assert sorted(settings.submissions_dir.iterdir()) == stored_folders
            time.sleep(8)  # the in-flight training ends while the database is away
            postgres.start()

            again = submit(_files(SOLUTION))
            assert again.status_code == 201, again.text
            after = again.json()["id"]
            for submission_id in (in_flight, after):
                done = wait_for(engine, submission_id, timeout=240)
                assert (done.status, done.score, done.max_score) == ("graded", 8, 8), done
                assert final_events(engine, submission_id) == ["graded"]
            print(f"\nin-flight submission graded at attempt {row(engine, in_flight).attempts}")
            with Session(engine) as session:
                stored = session.exec(select(Submission.id)).all()
            assert sorted(stored) == sorted([in_flight, after])  # the 503 stored no row
        engine.dispose()
        assert worker.stop() == 0
    finally:
        if worker is not None:
            worker.close()
        redis_server.stop()
        postgres.remove()
