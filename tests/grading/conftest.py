"""Fixtures of the grading engine's tests (plain helpers are in grading_helpers.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest


@pytest.fixture
def later() -> Iterator[subprocess.Popen[bytes]]:
    """A process started now: its pid may have belonged to an earlier, finished process."""
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()
