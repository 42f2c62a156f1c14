"""The test harness's own promises: a missing service is a failure under CI=true, never a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

import support


def test_a_missing_docker_engine_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert support.docker_problem() == "a Docker engine"


def test_a_missing_service_fails_under_ci_and_skips_locally(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setattr(support, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="a Docker engine is required under CI"):
        support.require_docker()
    monkeypatch.setattr(support, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="a Docker engine is not available"):
        support.require_docker()
