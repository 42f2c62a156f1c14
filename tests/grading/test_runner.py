"""The hidden-suite runner against a real service on a Unix socket (host Python, no Docker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from grading_helpers import EXERCISE_DIR, GRADER_DIR, SOLUTION, STARTER, host_service

from servelab.content.exercise import load_exercise
from servelab.grading.runner import SuiteError, run_hidden_suite

EXERCISE = load_exercise(EXERCISE_DIR / "exercise.toml")


@pytest.fixture(scope="module")
def solution_socket() -> Iterator[Path]:
    with host_service(SOLUTION) as sock:
        yield sock


def _run(socket_path: Path, grader_dir: Path = GRADER_DIR, timeout: float = 60):  # type: ignore[no-untyped-def]
    return run_hidden_suite(
        grader_dir=grader_dir,
        exercise_dir=EXERCISE_DIR,
        socket_path=socket_path,
        exercise=EXERCISE,
        timeout=timeout,
    )


def _grader(tmp_path: Path, source: str) -> Path:
    grader = tmp_path / "grader"
    grader.mkdir()
    (grader / "test_suite.py").write_text(source)
    return grader


def test_reference_solution_gets_full_marks(solution_socket: Path) -> None:
    doc = _run(solution_socket)
    assert (doc.score, doc.max_score) == (8, 8)
    assert {c.label: c.score for c in doc.categories} == {
        "API contract": 6,
        "Beats the baseline": 2,
    }
    assert doc.instructor_output  # the suite's own output, for instructors
    assert not any((GRADER_DIR / name).exists() for name in (".pytest_cache", "__pycache__"))


def test_starter_gets_partial_marks_with_feedback() -> None:
    with host_service(STARTER) as sock:
        doc = _run(sock)
    assert (doc.score, doc.max_score) == (3, 8)
    baseline = next(t for t in doc.tests if t.category == "baseline")
    assert baseline.output == "Your model is no better than always predicting the mean."
    assert baseline.tables[0].name == "Mean absolute error"


def test_suite_timeout_kills_the_process_group(tmp_path: Path, solution_socket: Path) -> None:
    pid_file = tmp_path / "child.pid"
    source = (
        "import subprocess, sys, time\n"
        "def test_slow():\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"    open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "    time.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(SuiteError, match="did not finish within 10 s"):
        _run(solution_socket, _grader(tmp_path, source), timeout=10)
    assert time.monotonic() - started < 30
    child = int(pid_file.read_text())
    time.sleep(0.2)
    status = Path(f"/proc/{child}/status")
    state = status.read_text().split("State:")[1].split()[0] if status.exists() else "gone"
    assert state in {"gone", "Z"}  # killed (a zombie until its new parent reaps it)


def test_broken_suite_is_a_platform_error(tmp_path: Path, solution_socket: Path) -> None:
    with pytest.raises(SuiteError, match="has errors") as info:
        _run(solution_socket, _grader(tmp_path, "def test_x(:\n    pass\n"))
    assert "SyntaxError" in info.value.output or "invalid syntax" in str(info.value)


def test_empty_suite_is_a_platform_error(tmp_path: Path, solution_socket: Path) -> None:
    with pytest.raises(SuiteError, match="exit code 5|collected no checks"):
        _run(solution_socket, _grader(tmp_path, "x = 1\n"))


def test_suite_gets_no_platform_secrets(
    tmp_path: Path, solution_socket: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVELAB_SECRET_KEY", "do-not-leak")
    source = (
        "import os\n"
        "from servelab.grading.plugin import feedback\n"
        "def test_env():\n"
        "    feedback(','.join(sorted(os.environ)))\n"
    )
    doc = _run(solution_socket, _grader(tmp_path, source))
    assert "SERVELAB_SECRET_KEY" not in doc.tests[0].output
    assert "PATH" in doc.tests[0].output
