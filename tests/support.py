"""Helpers shared by test modules (import with `from support import ...`).

Fixtures live in conftest.py; plain helpers live here, because importing from
`conftest` is ambiguous when several folders have one.
"""

from __future__ import annotations

import os
import re

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


def docker_ready(settings: Settings) -> bool:
    """True when a Docker engine answers and both grading images are current."""
    import docker
    import docker.errors

    from servelab.grading.images import images_ready

    try:
        client = docker.from_env()
        client.ping()
        return images_ready(settings, client)
    except docker.errors.DockerException:
        return False
