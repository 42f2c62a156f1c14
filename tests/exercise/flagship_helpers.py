"""Serve a variant of the flagship's reference solution on the host and run the hidden suite
against it, with the instructors' calibration tooling (servelab.grading.calibration)."""

from __future__ import annotations

import shutil
from pathlib import Path

from servelab.settings import PROJECT_ROOT

FLAGSHIP = "fastapi-for-ml-apis"
GRADER_DIR = PROJECT_ROOT / "graders" / FLAGSHIP
EXERCISE_DIR = PROJECT_ROOT / "exercises" / FLAGSHIP
SOLUTION = GRADER_DIR / "solution"


def solution_variant(dest: Path, *, append_to_main: str = "") -> Path:
    """A copy of the reference solution with code appended to main.py."""
    shutil.copytree(SOLUTION, dest, ignore=shutil.ignore_patterns("__pycache__"))
    main = dest / "main.py"
    main.write_text(main.read_text(encoding="utf-8") + append_to_main, encoding="utf-8")
    return dest
