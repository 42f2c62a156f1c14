"""The flagship's own instructor tool (calibrate.py), loaded for tests that serve a variant of
the reference solution on the host and run the hidden suite against it."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

from servelab.settings import PROJECT_ROOT

FLAGSHIP = "fastapi-for-ml-apis"
GRADER_DIR = PROJECT_ROOT / "graders" / FLAGSHIP
SOLUTION = GRADER_DIR / "solution"


def calibrate() -> ModuleType:
    """graders/fastapi-for-ml-apis/calibrate.py (serve a candidate, run the suite)."""
    spec = importlib.util.spec_from_file_location("churn_calibrate", GRADER_DIR / "calibrate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution_variant(dest: Path, *, append_to_main: str = "") -> Path:
    """A copy of the reference solution with code appended to main.py."""
    shutil.copytree(SOLUTION, dest, ignore=shutil.ignore_patterns("__pycache__"))
    main = dest / "main.py"
    main.write_text(main.read_text(encoding="utf-8") + append_to_main, encoding="utf-8")
    return dest
