"""Serve a grader's candidates on the host and run its suite per hidden part (calibration).

Instructor tooling behind each exercise's `graders/<slug>/calibrate.py`, never part of
grading: it trains a candidate (reference, mutant laid over the reference, starter) with the
host's packages, serves it with uvicorn on a Unix socket, and runs the hidden suite against it
once per part of the hidden data, judged as `servelab exercise selftest` judges. Each
exercise's own script adds the quantities its thresholds judge (its margins table).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from servelab.db.models.grading import SubmissionStatus
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import ResultDocument, read_result_file
from servelab.grading.selftest import Candidate, Kind, judge


class ServeError(Exception):
    """The candidate did not train, or its service did not become healthy in time."""


def candidate_source(candidate: Candidate, grader_dir: Path, scratch: Path) -> Path:
    """The folder to serve: a mutant holds only what differs, laid over a copy of solution/."""
    if candidate.kind != Kind.MUTANT:
        return candidate.path
    source = scratch / "src"
    ignore = shutil.ignore_patterns("__pycache__", "mutant.toml")
    shutil.copytree(grader_dir / "solution", source, ignore=ignore)
    shutil.copytree(candidate.path, source, ignore=ignore, dirs_exist_ok=True)
    return source


@contextmanager
def served(
    folder: Path, data_dir: Path, work: Path, startup_seconds: float = 20.0
) -> Iterator[Path]:
    """Train `folder` (python train.py) and serve it with uvicorn; yields the Unix socket."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "MODEL_DIR": str(work / "model")}
    trained = subprocess.run(
        [sys.executable, "train.py"], cwd=folder, env=env, capture_output=True, timeout=600
    )
    if trained.returncode != 0:
        raise ServeError("train failed")
    socket = work / "service.sock"
    uvicorn = Path(sys.executable).with_name("uvicorn")
    server = subprocess.Popen(
        [str(uvicorn), "main:app", "--uds", str(socket), "--log-level", "error"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not _wait_healthy(socket, startup_seconds):
            raise ServeError(f"not healthy within {startup_seconds:g} s")
        yield socket
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_healthy(socket: Path, seconds: float) -> bool:
    transport = httpx.HTTPTransport(uds=str(socket))
    with httpx.Client(transport=transport, base_url="http://service", timeout=10) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if client.get("/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.3)
    return False


def part_grader_dir(grader_dir: Path, work: Path, part: str) -> Path:
    """A copy of the suite whose data/holdout.csv is one part of the hidden data."""
    grader = work / f"grader-{part}"
    ignore = shutil.ignore_patterns("data", "solution", "mutants", "__pycache__", "*.md")
    shutil.copytree(grader_dir, grader, ignore=ignore)
    (grader / "data").mkdir()
    shutil.copyfile(grader_dir / "data" / part / "holdout.csv", grader / "data" / "holdout.csv")
    return grader


def run_suite(
    socket: Path, exercise_dir: Path, grader: Path, results: Path, timeout: float = 600
) -> ResultDocument:
    """Run the hidden suite in `grader` (as the runner does) against the service on `socket`."""
    config = results.with_name("pytest.ini")
    config.write_text("[pytest]\naddopts =\n", encoding="utf-8")
    command = [
        *(sys.executable, "-m", "pytest", "-p", "servelab.grading.plugin"),
        *("-p", "no:cacheprovider", "-p", "_hypothesis_pytestplugin", "-c", str(config)),
        *("--rootdir", str(grader), "--confcutdir", str(grader), "-q", "--no-header"),
        f"--servelab-socket={socket}",
        f"--servelab-exercise-dir={exercise_dir}",
        f"--servelab-grader-dir={grader}",
        f"--servelab-results={results}",
        str(grader),
    ]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    subprocess.run(command, cwd=results.parent, env=env, capture_output=True, timeout=timeout)
    return read_result_file(results)


def suite_verdict(
    candidate: Candidate, socket: Path, exercise_dir: Path, grader_dir: Path, work: Path, part: str
) -> dict[str, Any]:
    """The hidden suite's outcome on one part, judged as the self-test judges it."""
    started = time.monotonic()
    grader = part_grader_dir(grader_dir, work, part)
    document = run_suite(socket, exercise_dir, grader, work / f"results-{part}.json")
    seconds = time.monotonic() - started
    verdict = judge(candidate, GradeOutcome(SubmissionStatus.GRADED, result=document))
    return {
        "score": f"{document.score:g}",
        "failed": ", ".join(verdict.failed_checks) or "none",
        "verdict": "as declared" if verdict.ok else "SURPRISE: " + "; ".join(verdict.surprises),
        "suite_s": f"{seconds:.0f}",
    }


def markdown_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(str(r.get(key, "")) for key, _ in columns) + " |" for r in rows]
    return "\n".join(lines)
