"""`servelab grade` end to end through real Docker (platform/servelab/cli/grading.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import COURSE, SLUG, SOLUTION, STARTER, copy_submission


def _grade(folder: Path, var_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SERVELAB_ENVIRONMENT": "test",
        "SERVELAB_VAR_DIR": str(var_dir),
        "SERVELAB_EXERCISES_DIR": str(COURSE / "exercises"),
        "SERVELAB_GRADERS_DIR": str(COURSE / "graders"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "servelab", "grade", str(folder), "--exercise", SLUG, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _no_leftovers(var_dir: Path) -> None:
    work = var_dir / "work"
    assert not work.exists() or not any(work.iterdir()), list(work.iterdir())


@pytest.mark.docker
@pytest.mark.slow
def test_solution_gets_full_marks_with_live_phases(runtime_image: str, tmp_path: Path) -> None:
    done = _grade(SOLUTION, tmp_path / "var")
    assert done.returncode == 0, done.stdout + done.stderr
    for phase in ("preparing", "training", "starting", "testing"):
        assert f"✓ {phase}" in done.stderr
    assert "Graded: 8 of 8 points (7 of 7 checks passed)." in done.stdout
    assert "Invalid input gets 422 [payload2]" in done.stdout
    assert "API contract: 6 / 6" in done.stdout
    assert "Mean absolute error" in done.stdout and "mean baseline" in done.stdout
    _no_leftovers(tmp_path / "var")


@pytest.mark.docker
@pytest.mark.slow
def test_json_is_the_result_document_and_any_score_exits_zero(
    runtime_image: str, tmp_path: Path
) -> None:
    done = _grade(STARTER, tmp_path / "var", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["score"], doc["max_score"]) == (3, 8)
    baseline = next(t for t in doc["tests"] if t["category"] == "baseline")
    assert baseline["output"] == "Your model is no better than always predicting the mean."
    assert baseline["section"] == "baseline"


@pytest.mark.docker
@pytest.mark.slow
def test_failing_train_is_failed_with_its_log(runtime_image: str, tmp_path: Path) -> None:
    folder = copy_submission(
        SOLUTION,
        tmp_path / "sub",
        train__py="import sys\nprint('loading rows')\nsys.exit('the data has no column y2')\n",
    )
    done = _grade(folder, tmp_path / "var")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "train.py stopped with exit code 1" in done.stdout
    assert "the data has no column y2" in done.stdout
    assert "✗ training" in done.stderr
    _no_leftovers(tmp_path / "var")


@pytest.mark.docker
@pytest.mark.slow
def test_import_crash_fails_at_startup(runtime_image: str, tmp_path: Path) -> None:
    folder = copy_submission(SOLUTION, tmp_path / "sub", main__py="def broken(:\n")
    done = _grade(folder, tmp_path / "var", "--json")
    assert done.returncode == 1
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "failed"
    assert "SyntaxError" in outcome["log_excerpt"]


@pytest.mark.docker
@pytest.mark.slow
def test_requirements_refused_before_anything_runs(runtime_image: str, tmp_path: Path) -> None:
    folder = copy_submission(
        SOLUTION, tmp_path / "sub", requirements__txt="scikit-learn\nlightgbm==4.5\n"
    )
    done = _grade(folder, tmp_path / "var", "--json")
    assert done.returncode == 1
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "failed"
    assert "lightgbm is not in the runtime image" in outcome["message"]
    assert "scikit-learn" in outcome["message"] and "fastapi" in outcome["message"]
    assert set(outcome["phase_seconds"]) <= {"prepare", "cleanup"}  # no container was made


def test_unknown_exercise_and_missing_folder_are_clear(tmp_path: Path) -> None:
    done = _grade(tmp_path / "nope", tmp_path / "var")
    assert done.returncode == 2 and "is not a folder" in done.stderr
    env_done = subprocess.run(
        [sys.executable, "-m", "servelab", "grade", str(SOLUTION), "-e", "no-such-exercise"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SERVELAB_EXERCISES_DIR": str(COURSE / "exercises")},
    )
    assert env_done.returncode == 2 and "no exercise called 'no-such-exercise'" in env_done.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_flagship_reference_solution_gets_full_marks(runtime_image: str, tmp_path: Path) -> None:
    """The acceptance command: servelab grade graders/<flagship>/solution --exercise <flagship>."""
    from servelab.settings import PROJECT_ROOT

    flagship = "fastapi-for-ml-apis"
    env = {**os.environ, "SERVELAB_ENVIRONMENT": "test", "SERVELAB_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "servelab", "grade", f"graders/{flagship}/solution"]
        + ["--exercise", flagship, "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    doc = json.loads(done.stdout)
    assert doc["score"] == doc["max_score"] > 0
    assert {t["category"] for t in doc["tests"]} >= {"contract", "leakage", "baseline", "slices"}


@pytest.mark.docker
@pytest.mark.slow
def test_grades_a_submission_zip_and_refuses_a_zip_slip(runtime_image: str, tmp_path: Path) -> None:
    import zipfile

    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as archive:
        for name in ("train.py", "main.py"):
            archive.write(SOLUTION / name, f"my-service/{name}")
    done = _grade(good, tmp_path / "var", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["score"] == doc["max_score"] == 8

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("train.py", "x = 1\n")
        archive.writestr("../../escaped.py", "x = 1\n")
    done = _grade(evil, tmp_path / "var")
    assert done.returncode == 1
    assert "The archive was refused" in done.stderr
    assert not (tmp_path.parent / "escaped.py").exists()
