"""Fixtures for the flagship exercise, its grader self-test and `exercise new`."""

from __future__ import annotations

from pathlib import Path

import pytest

from servelab.settings import Settings
from support import require_docker


@pytest.fixture
def grading_settings(tmp_path: Path) -> Settings:
    """Settings for real gradings; fails under CI (skips locally) without Docker and image."""
    settings = Settings(environment="test", var_dir=tmp_path / "var")
    require_docker(settings)
    return settings
