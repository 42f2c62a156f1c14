"""Docker fixtures for the sandbox tests: a real engine and the current runtime image.

Test modules here and elsewhere do `from conftest import ...`; with pytest's default import mode
that name resolves to the conftest imported last, which may be this one, so this module
re-exports the root conftest's helpers.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from servelab.grading.runtime import image_exists
from servelab.settings import Settings


def _load_root_conftest():  # type: ignore[no-untyped-def]
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("servelab_tests_root_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_root = _load_root_conftest()
IN_CI = _root.IN_CI
PASSWORD = _root.PASSWORD
require_service = _root.require_service
csrf_from = _root.csrf_from
login = _root.login


def _docker() -> docker.DockerClient | None:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException:
        return None
    return client


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = _docker()
    require_service(client is not None, "a Docker engine")
    assert client is not None
    yield client
    client.close()


@pytest.fixture(scope="session")
def runtime_image(docker_client: docker.DockerClient) -> str:
    """The runtime image tag, required current (`servelab runtime build` makes it)."""
    settings = Settings(environment="test")
    require_service(
        image_exists(settings, docker_client),
        f"the runtime image {settings.runtime_image} (run `servelab runtime build`)",
    )
    return settings.runtime_image
