"""Fixtures of the command-line tests: the CLI reads its settings from SERVELAB_* variables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from servelab.settings import Settings, get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Point the CLI's settings at a private var dir (get_settings is cached per process)."""
    monkeypatch.setenv("SERVELAB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SERVELAB_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def course_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_env: Settings
) -> Iterator[tuple[Path, Path]]:
    """Empty exercises and graders folders of the CLI's own, for `exercise new` and friends."""
    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    exercises.mkdir()
    monkeypatch.setenv("SERVELAB_EXERCISES_DIR", str(exercises))
    monkeypatch.setenv("SERVELAB_GRADERS_DIR", str(graders))
    get_settings.cache_clear()
    yield exercises, graders
    get_settings.cache_clear()
