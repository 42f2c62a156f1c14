"""Helpers shared by the grading engine's tests: the tiny fixture course and a host service.

The host service runs a submission with the platform's own Python and uvicorn on a Unix
socket; it exercises the runner and plugin without Docker. Sandbox and pipeline tests use
real containers instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from servelab.content.loader import Course, ExerciseFiles, load_course
from servelab.db.models import User
from servelab.grading.processes import start_time
from servelab.settings import Settings

# The tiny fixture course lives in support.py, which tests outside tests/grading import too.
from support import COURSE as COURSE
from support import EXERCISE_DIR as EXERCISE_DIR
from support import GRADER_DIR as GRADER_DIR
from support import SLUG as SLUG
from support import SOLUTION as SOLUTION
from support import STARTER as STARTER
from support import copy_submission as copy_submission


def course_settings(var_dir: Path, **overrides: object) -> Settings:
    """Settings pointing at the fixture course, with their own var folder."""
    return Settings(
        environment="test",
        var_dir=var_dir,
        exercises_dir=COURSE / "exercises",
        graders_dir=COURSE / "graders",
        **overrides,  # type: ignore[arg-type]
    )


def tiny_course() -> Course:
    """The fixture course, loaded the way the app and the workers load theirs."""
    return load_course(COURSE / "exercises", graders_dir=COURSE / "graders")


def tiny_exercise() -> ExerciseFiles:
    """The tiny-regression exercise, found for grading."""
    return tiny_course().find_exercise(SLUG, for_grading=True)


def make_learner(session: Session, email: str = "learner@example.org") -> User:
    user = User(
        email=email, display_name="Learner", password_hash="x", created_at=datetime.now(UTC)
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


@contextmanager
def host_service(source: Path) -> Iterator[Path]:
    """Train `source` and serve it on a Unix socket with the host's Python; yields the socket."""
    work = Path(tempfile.mkdtemp(prefix="sl-host-"))
    env = {**os.environ, "DATA_DIR": str(EXERCISE_DIR / "data"), "MODEL_DIR": str(work)}
    subprocess.run([sys.executable, "train.py"], cwd=source, env=env, check=True, timeout=60)
    sock = work / "service.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--uds", str(sock), "--log-level", "error"],
        cwd=source,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the host service did not start")
            time.sleep(0.05)
        yield sock
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:  # uvicorn waits for requests still running
            process.kill()
            process.wait(5)
        shutil.rmtree(work, ignore_errors=True)


def sandbox_containers(submission_label: str) -> list[object]:
    """Containers (any state) a sandbox of this process created for this submission label.

    Only this process's: a test running beside it (pytest-xdist) has databases of its own,
    whose submission ids are the same small numbers."""
    import docker

    from servelab.grading.orphans import OWNER_LABEL
    from servelab.grading.processes import owner_token

    client = docker.from_env()
    labels = [f"servelab.submission={submission_label}", f"{OWNER_LABEL}={owner_token()}"]
    return list(client.containers.list(all=True, filters={"label": labels}))


def reused(pid: int) -> str:
    """The start time of an earlier process with this pid (before the live one started)."""
    started = start_time(pid)
    assert started is not None and started.isdigit()
    return str(int(started) - 1)
