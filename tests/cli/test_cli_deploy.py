"""`servelab deploy build` (platform/servelab/cli/deploy.py)."""

from __future__ import annotations

import os

import docker
import pytest
from typer.testing import CliRunner

from servelab.cli import app
from servelab.deploy_images import DEFAULT_TAGS
from support import require_service


def test_cli_deploy_build_refuses_an_unknown_image() -> None:
    result = CliRunner().invoke(app, ["deploy", "build", "--only", "nginx"])
    assert result.exit_code == 2
    assert "Unknown image nginx" in result.output
    assert "choose app, redis or postgres" in result.output


@pytest.mark.docker
@pytest.mark.slow
def test_cli_deploy_build_builds_then_finds_the_images_current(
    docker_client: docker.DockerClient, runtime_image: str
) -> None:
    require_service(os.geteuid() == 0, "root (the offline image build uses chroot)")
    runner = CliRunner()
    first = runner.invoke(app, ["deploy", "build"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["deploy", "build"])
    assert again.exit_code == 0, again.output
    for tag in DEFAULT_TAGS.values():
        assert f"{tag} is current" in again.output
        labels = docker_client.images.get(tag).labels
        assert labels["servelab.deploy"] == "1" and labels["servelab.deploy.hash"]
