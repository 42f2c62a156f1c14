"""Real `servelab worker` processes of the Celery tests, and what the tests ask of them.

Each Celery worker is its own process group so a test can kill -9 all of it at once; the
Redis they use is tests/redis_server.py's `RedisServer` (restartable, no persistence).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from grading_helpers import SOLUTION
from sqlmodel import Session

from servelab.db.models.grading import FINAL_STATUSES, Submission
from servelab.grading import queue
from servelab.settings import Settings
from support import copy_submission

# A learner whose training takes a few seconds: long enough to kill or stop a worker mid-way.
SLOW_TRAIN = "import time\ntime.sleep(6)\n" + (SOLUTION / "train.py").read_text()


def celery_env(settings: Settings, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `servelab worker` in celery mode for these settings."""
    return {
        **os.environ,
        "SERVELAB_ENVIRONMENT": "test",
        "SERVELAB_QUEUE_BACKEND": "celery",
        "SERVELAB_REDIS_URL": redis_url,
        "SERVELAB_DATABASE_URL": settings.database_url,
        "SERVELAB_VAR_DIR": str(settings.var_dir),
        "SERVELAB_EXERCISES_DIR": str(settings.exercises_dir),
        "SERVELAB_GRADERS_DIR": str(settings.graders_dir),
        "SERVELAB_JOB_LEASE_SECONDS": "3",
        "SERVELAB_CELERY_REDISPATCH_SECONDS": "4",
        **extra,
    }


class CeleryWorker:
    """One `servelab worker` process (a Celery worker and its pool processes)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, size: int = 1) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "servelab", "worker", "--size", str(size)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill -9 reaches every process
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the Celery worker did not get ready:\n{self.output()}")

    def owns(self, worker_id: str | None) -> bool:
        """Was worker_id (`host:pid:start:celery:0`) one of this worker's processes?"""
        if not worker_id:
            return False
        pid = int(worker_id.split(":")[1])
        try:
            return os.getpgid(pid) == self.process.pid
        except ProcessLookupError:
            return False

    def kill_all(self) -> None:
        """kill -9 the whole worker: its main process and every grading process."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM (a warm shutdown) and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=30)
        self._log.close()


def enqueue(engine, user_id: int, source: Path, slug: str = "tiny-regression") -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        row = queue.enqueue_submission(
            session, user_id=user_id, exercise_slug=slug, source_dir=str(source)
        )
        assert row.id is not None
        return row.id


def slow_submission(where: Path) -> Path:
    return copy_submission(SOLUTION, where, train__py=SLOW_TRAIN)


def row(engine, submission_id: int) -> Submission:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        found = session.get(Submission, submission_id)
        assert found is not None
        return found


def wait_for(
    engine, submission_id: int, statuses=FINAL_STATUSES, timeout: float = 240
) -> Submission:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = row(engine, submission_id)
        if found.status in statuses:
            return found
        time.sleep(0.1)
    raise AssertionError(f"submission {submission_id} still {found.status} after {timeout} s")


def final_events(engine, submission_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The final results stored for a submission, from its timeline (one per grading)."""
    with Session(engine) as session:
        events = queue.get_events(session, submission_id=submission_id)
    return [e.status for e in events if e.status in FINAL_STATUSES]
