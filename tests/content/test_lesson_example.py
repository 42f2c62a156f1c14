"""The flagship lesson's example prints exactly its Expected output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from servelab.content.lesson import load_lesson
from servelab.settings import PROJECT_ROOT

LESSONS = sorted((PROJECT_ROOT / "exercises").glob("*/lesson.md"))


@pytest.mark.slow
@pytest.mark.parametrize("lesson_path", LESSONS, ids=lambda p: p.parent.name)
def test_example_prints_expected_output(lesson_path: Path, tmp_path: Path) -> None:
    lesson = load_lesson(lesson_path)
    script = tmp_path / "example.py"
    script.write_text(lesson.example.code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == lesson.example.expected_output


def test_flagship_lesson_exists() -> None:
    assert any(p.parent.name == "fastapi-for-ml-apis" for p in LESSONS)
