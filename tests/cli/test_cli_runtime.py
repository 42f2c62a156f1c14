"""`servelab runtime build`, `check` and `sweep` (platform/servelab/cli/runtime.py)."""

from __future__ import annotations

import socket

import docker
import pytest
from typer.testing import CliRunner

from servelab.cli import app


@pytest.mark.docker
@pytest.mark.slow
def test_cli_runtime_build_and_check(
    docker_client: docker.DockerClient, runtime_image: str
) -> None:
    runner = CliRunner()
    built = runner.invoke(app, ["runtime", "build"])
    assert built.exit_code == 0, built.output
    assert "runtime image" in built.output and "grader image" in built.output
    assert built.output.count("is current") == 2
    checked = runner.invoke(app, ["runtime", "check"])
    assert checked.exit_code == 0, checked.output
    assert "runtime: all" in checked.output and "grader: all" in checked.output
    assert "schemathesis" in checked.output and "scikit-learn" in checked.output


@pytest.mark.docker
def test_cli_runtime_sweep_removes_an_orphan(
    docker_client: docker.DockerClient, runtime_image: str
) -> None:
    dead_owner = f"{socket.gethostname()}:{2**22 + 7}:1"  # above pid_max: never alive
    labels = {"servelab.managed": "1", "servelab.owner": dead_owner}
    volume = docker_client.volumes.create(labels=labels)
    result = CliRunner().invoke(app, ["runtime", "sweep"])
    assert result.exit_code == 0, result.output
    assert "Removed" in result.output
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(volume.name)
