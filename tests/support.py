"""Helpers shared by test modules (import with `from support import ...`).

Fixtures live in conftest.py; plain helpers live here, because importing from
`conftest` is ambiguous when several folders have one.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from servelab.db.models import User
from servelab.settings import PROJECT_ROOT, Settings

IN_CI = os.environ.get("CI") == "true"
ROOT = PROJECT_ROOT
PASSWORD = "correct horse battery"
# The `###` topic anchors the flagship lesson promises (docs/architecture.md).
FLAGSHIP_TOPICS = (
    "data-contract",
    "input-validation",
    "nan-and-infinity",
    "temporal-split",
    "fit-on-training-rows",
    "leakage",
    "baseline",
    "slices",
    "model-card",
    "latency-and-monitoring",
)

# The tiny fixture course (tests/fixtures/course): one regression exercise, graded for real.
COURSE = ROOT / "tests" / "fixtures" / "course"
SLUG = "tiny-regression"
EXERCISE_DIR = COURSE / "exercises" / SLUG
GRADER_DIR = COURSE / "graders" / SLUG
SOLUTION = GRADER_DIR / "solution"
STARTER = EXERCISE_DIR / "starter"


def copy_submission(source: Path, dest: Path, **replace: str) -> Path:
    """A copy of a submission folder with some files replaced (train__py -> train.py's text)."""
    shutil.copytree(source, dest)
    for name, text in replace.items():
        (dest / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return dest


def require_service(available: bool, what: str) -> None:
    """Skip locally when a service is missing; under CI=true a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} is not available")


def csrf_from(client: TestClient, path: str = "/login") -> str:
    """GET a page and pull the CSRF token out of its form."""
    html = client.get(path).text
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(client: TestClient, user: User) -> None:
    """Log `user` in on `client` through the real login form."""
    token = csrf_from(client)
    r = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def docker_problem(settings: Settings | None = None, *, images: bool = True) -> str | None:
    """What is missing for tests on the real Docker engine, or None when nothing is.

    With `images`, both grading images must be current too (any grading runs the learner's
    code in the runtime image and the hidden suite in the grader image).
    """
    import docker
    import docker.errors

    from servelab.grading.images import IMAGES, image_exists

    settings = settings or Settings(environment="test")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException:
        return "a Docker engine"
    try:
        for spec in IMAGES if images else ():
            if not image_exists(settings, client, spec):
                return f"the {spec.kind} image {spec.tag(settings)} (run `servelab runtime build`)"
    except docker.errors.DockerException as error:
        return f"a Docker engine that answers ({error})"
    finally:
        client.close()
    return None


def require_docker(settings: Settings | None = None, *, images: bool = True) -> None:
    """The one Docker readiness check: skip locally, fail under CI=true (see require_service)."""
    problem = docker_problem(settings, images=images)
    require_service(problem is None, problem or "")


class FakeClock:
    """A clock a test moves by hand (`clock.now += 60`), for windows and leases."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
