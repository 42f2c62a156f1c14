"""The in-process worker pool: grading from the queue, retries, watchdog, resume and drain."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from grading_helpers import (
    SLUG,
    SOLUTION,
    STARTER,
    course_settings,
    make_learner,
    reused,
    sandbox_containers,
    tiny_course,
)
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from servelab.db.clock import utcnow
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models.grading import FINAL_STATUSES, Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.processes import HOST, owner_token, process_tag, tag_for
from servelab.grading.worker import WorkerPool
from servelab.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = course_settings(tmp_path / "var", job_attempts=2)
    upgrade(settings)
    return settings


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def pools() -> Iterator[list[WorkerPool]]:
    started: list[WorkerPool] = []
    yield started
    for pool in started:
        pool.stop(timeout=120)


def _start(
    pools: list[WorkerPool], settings: Settings, engine: Engine, size: int = 1
) -> WorkerPool:
    pool = WorkerPool(
        settings, engine, tiny_course(), size=size, poll_seconds=0.1, watchdog_seconds=0.5
    )
    pool.start()
    pools.append(pool)
    return pool


def _enqueue(engine: Engine, user_id: int, source: Path, slug: str = SLUG) -> int:
    with Session(engine) as session:
        row = queue.enqueue_submission(
            session, user_id=user_id, exercise_slug=slug, source_dir=str(source)
        )
        assert row.id is not None
        return row.id


def _row(engine: Engine, submission_id: int) -> Submission:
    with Session(engine) as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        return row


def _wait(engine: Engine, submission_id: int, statuses=FINAL_STATUSES, timeout: float = 240):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _row(engine, submission_id)
        if row.status in statuses:
            return row
        time.sleep(0.1)
    raise AssertionError(f"submission {submission_id} still {row.status} after {timeout} s")


def _events(engine: Engine, submission_id: int) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [
            (e.status, e.detail) for e in queue.get_events(session, submission_id=submission_id)
        ]


def test_platform_error_is_retried_then_reported_as_error(
    settings: Settings, engine: Engine, user_id: int, pools: list[WorkerPool]
) -> None:
    sid = _enqueue(engine, user_id, SOLUTION, slug="no-such-exercise")
    _start(pools, settings, engine)
    row = _wait(engine, sid, timeout=60)
    assert row.status == SubmissionStatus.ERROR
    assert row.attempts == 2
    assert "problem on our side, not in your code" in (row.learner_message or "")
    assert "no exercise called 'no-such-exercise'" in (row.log_excerpt or "")
    statuses = [status for status, _ in _events(engine, sid)]
    assert statuses == ["queued", "received", "queued", "received", "error"]


def test_a_job_whose_worker_pid_was_reused_is_resumed_at_start(
    settings: Settings,
    engine: Engine,
    user_id: int,
    pools: list[WorkerPool],
    later: subprocess.Popen[bytes],
) -> None:
    """The worker that claimed it is gone; a later process has its pid. Without the start
    time the job would look alive and wait out its hour-long lease."""
    sid = _enqueue(engine, user_id, SOLUTION, slug="no-such-exercise")
    with Session(engine) as session:
        gone = f"{HOST}:{later.pid}:{reused(later.pid)}:pool0000:0"
        claim = queue.claim_next(
            session, worker_id=gone, lease_seconds=3600, deadline_seconds=lambda _: 3600
        )
        assert claim is not None and claim.submission_id == sid
    _start(pools, settings, engine)
    assert _wait(engine, sid, timeout=60).status == SubmissionStatus.ERROR
    assert "resumed" in _events(engine, sid)[2][1]


@pytest.mark.docker
@pytest.mark.slow
def test_pool_grades_queued_submissions(
    runtime_image: str, settings: Settings, engine: Engine, user_id: int, pools: list[WorkerPool]
) -> None:
    good = _enqueue(engine, user_id, SOLUTION)
    partial = _enqueue(engine, user_id, STARTER)
    _start(pools, settings, engine, size=2)
    done = _wait(engine, good)
    other = _wait(engine, partial)
    assert (done.status, done.score, done.max_score) == ("graded", 8, 8)
    assert (other.status, other.score) == ("graded", 3)
    stamps = [
        done.requested_at,
        done.queued_at,
        done.received_at,
        done.started_at,
        done.finished_at,
        done.graded_at,
    ]
    assert all(stamps) and stamps == sorted(stamps)  # type: ignore[type-var]
    assert [s for s, _ in _events(engine, good)] == [
        "queued", "received", "preparing", "training", "starting", "testing", "graded",
    ]  # fmt: skip
    assert '"train"' in (done.phase_seconds_json or "")
    assert sandbox_containers(str(good)) == []
    assert not any((settings.var_dir / "work").iterdir())


@pytest.mark.docker
@pytest.mark.slow
def test_restart_resumes_interrupted_jobs_and_replaces_partial_results(
    runtime_image: str, settings: Settings, engine: Engine, user_id: int, pools: list[WorkerPool]
) -> None:
    crashed_here = _enqueue(engine, user_id, SOLUTION)
    other_host = _enqueue(engine, user_id, SOLUTION)
    with Session(engine) as session:
        # a pool in this process that is gone (a restart), mid-training with a partial result
        dead = f"{owner_token()}:gone0000:0"
        claim = queue.claim_next(
            session, worker_id=dead, lease_seconds=3600, deadline_seconds=lambda _: 3600
        )
        assert claim is not None and claim.submission_id == crashed_here
        assert queue.record_phase(session, claim, SubmissionStatus.TRAINING)
        # a worker on another host that stopped renewing its lease
        stale = queue.claim_next(
            session, worker_id="elsewhere:1:pool:0", lease_seconds=1, deadline_seconds=lambda _: 600
        )
        assert stale is not None
        session.exec(
            update(Submission)
            .where(col(Submission.id) == crashed_here)
            .values(score=1, max_score=8, result_json='{"tests": []}')
        )
        session.exec(
            update(Submission)
            .where(col(Submission.id) == other_host)
            .values(lease_until=utcnow() - timedelta(seconds=5))
        )
        session.commit()

    _start(pools, settings, engine)  # the "restart"
    for sid in (crashed_here, other_host):
        row = _wait(engine, sid)
        assert (row.status, row.score, row.max_score, row.attempts) == ("graded", 8, 8, 2)
    assert "resumed" in _events(engine, crashed_here)[3][1]
    assert "stopped responding" in _events(engine, other_host)[2][1]


@pytest.mark.docker
@pytest.mark.slow
def test_stop_drains_the_running_job(
    runtime_image: str, settings: Settings, engine: Engine, user_id: int
) -> None:
    pool = WorkerPool(settings, engine, tiny_course(), size=1, poll_seconds=0.1)
    pool.start()
    sid = _enqueue(engine, user_id, SOLUTION)
    pool.wake()
    _wait(engine, sid, statuses={SubmissionStatus.TRAINING, SubmissionStatus.STARTING}, timeout=60)
    pool.stop(timeout=120)
    assert _row(engine, sid).status == SubmissionStatus.GRADED
    assert pool.busy == 0
    assert all(not thread.is_alive() for thread in pool._threads)


def test_web_app_runs_the_embedded_pool_only_when_enabled(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from servelab.web.app import create_app

    off = course_settings(tmp_path / "off")
    upgrade(off)
    with TestClient(create_app(off)) as client:
        assert client.app.state.grading_pool is None  # type: ignore[attr-defined]

    on = course_settings(tmp_path / "on", embedded_worker=True, worker_count=1)
    upgrade(on)
    app = create_app(on)
    with TestClient(app):
        pool = app.state.grading_pool
        assert pool is not None and pool.size == 1
        with Session(app.state.engine) as session:
            user = make_learner(session)
            assert user.id is not None
        sid = _enqueue(app.state.engine, user.id, SOLUTION, slug="no-such-exercise")
        pool.wake()
        assert _wait(app.state.engine, sid, timeout=60).status == SubmissionStatus.ERROR
    assert all(not thread.is_alive() for thread in pool._threads)  # drained at shutdown


def test_servelab_worker_command_grades_and_drains_on_sigterm(
    settings: Settings, engine: Engine, user_id: int
) -> None:
    import signal
    import subprocess
    import sys

    env = {
        **os.environ,
        "SERVELAB_ENVIRONMENT": "test",
        "SERVELAB_VAR_DIR": str(settings.var_dir),
        "SERVELAB_EXERCISES_DIR": str(settings.exercises_dir),
        "SERVELAB_GRADERS_DIR": str(settings.graders_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "servelab", "worker", "--size", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sid = _enqueue(engine, user_id, SOLUTION, slug="no-such-exercise")
        assert _wait(engine, sid, timeout=90).status == SubmissionStatus.ERROR
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "1 grading worker(s) running" in output and "Draining" in output


@pytest.mark.docker
def test_pool_start_sweeps_what_a_crashed_worker_left(
    runtime_image: str, docker_client, settings: Settings, engine: Engine, pools: list[WorkerPool]
) -> None:  # type: ignore[no-untyped-def]
    from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL

    dead_owner = f"{socket.gethostname()}:999999999:0"
    orphan = docker_client.containers.create(
        runtime_image,
        command=["sleep", "600"],
        labels={MANAGED_LABEL: "1", OWNER_LABEL: dead_owner, "servelab.test": "orphan"},
        network_mode="none",
    )
    leftover_dir = settings.var_dir / "work" / f"job-{tag_for(999999999, '0')}-local-abc"
    leftover_dir.mkdir(parents=True)
    (leftover_dir / "train.py").write_text("x = 1\n")
    live_dir = settings.var_dir / "work" / f"job-{process_tag()}-local-abc"
    live_dir.mkdir()
    try:
        _start(pools, settings, engine)
        remaining = docker_client.containers.list(all=True, filters={"id": orphan.id})
        assert remaining == []
        assert not leftover_dir.exists()
        assert live_dir.exists()  # a job folder of a live process is left alone
    finally:
        for container in docker_client.containers.list(all=True, filters={"id": orphan.id}):
            container.remove(force=True)
