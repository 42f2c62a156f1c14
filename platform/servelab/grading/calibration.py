"""Serve a grader's candidates on the host and run its suite per hidden part (calibration).

Instructor tooling behind each exercise's `graders/<slug>/calibrate.py`, never part of
grading: it trains a candidate (reference, mutant laid over the reference, starter) with the
host's packages, serves it with uvicorn on a Unix socket, and runs the hidden suite against it
once per part of the hidden data, judged as `servelab exercise selftest` judges. Each
exercise's own script adds the quantities its thresholds judge (its margins table).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from servelab.content.loader import load_course
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import ResultDocument, read_result_file
from servelab.grading.selftest import Candidate, Kind, discover, judge


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


Metrics = Callable[[httpx.Client, str], dict[str, Any]]
"""An exercise's margins for one part of the hidden data, measured through a client."""


def measure(
    candidate: Candidate,
    grader_dir: Path,
    exercise_dir: Path,
    parts: tuple[str, ...],
    metrics: Metrics,
    *,
    suite: bool,
    startup_seconds: float = 20.0,
    client_timeout: float = 30.0,
) -> dict[str, dict[str, Any]]:
    """part -> one table row for a candidate: its margins, and with `suite` the suite's verdict.

    A candidate that does not train or serve gets its reason in every row's first margin."""
    rows: dict[str, dict[str, Any]] = {part: {"candidate": candidate.name} for part in parts}
    with tempfile.TemporaryDirectory(prefix=f"{grader_dir.name}-calibrate-") as scratch:
        work = Path(scratch)
        try:
            source = candidate_source(candidate, grader_dir, work)
            with served(source, exercise_dir / "data", work, startup_seconds) as socket:
                transport = httpx.HTTPTransport(uds=str(socket))
                client = httpx.Client(
                    transport=transport, base_url="http://service", timeout=client_timeout
                )
                with client:
                    for part in parts:
                        rows[part].update(metrics(client, part))
                        if suite:
                            rows[part].update(
                                suite_verdict(
                                    candidate, socket, exercise_dir, grader_dir, work, part
                                )
                            )
        except ServeError as exc:
            return {part: {**row, "error": str(exc)} for part, row in rows.items()}
    return rows


SUITE_COLUMNS = [
    ("candidate", "candidate"),
    ("score", "score"),
    ("failed", "failed checks"),
    ("verdict", "verdict"),
    ("suite_s", "suite s"),
    ("error", "did not serve"),
]


def main(
    description: str,
    slug: str,
    grader_dir: Path,
    columns: list[tuple[str, str]],
    metrics: Metrics,
    part_sizes: dict[str, str],
    startup_seconds: Callable[[Candidate], float] = lambda _: 20.0,
) -> None:
    """The command line of an exercise's calibrate.py: measure every candidate (or the named
    ones) and print one margins table per part, with the suite's verdicts under --suite."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--suite", action="store_true", help="also run the hidden suite")
    parser.add_argument("candidates", nargs="*", help="candidate names (default: all)")
    args = parser.parse_args()
    exercise_dir = grader_dir.parents[1] / "exercises" / slug
    course = load_course(exercise_dir.parent, graders_dir=grader_dir.parent)
    candidates = discover(course, slug)
    if args.candidates:
        candidates = [c for c in candidates if c.name in args.candidates]
    parts = tuple(part_sizes)
    by_part: dict[str, list[dict[str, Any]]] = {part: [] for part in parts}
    for candidate in candidates:
        sys.stderr.write(f"measuring {candidate.name} ...\n")
        rows = measure(
            candidate,
            grader_dir,
            exercise_dir,
            parts,
            metrics,
            suite=args.suite,
            startup_seconds=startup_seconds(candidate),
        )
        for part, row in rows.items():
            by_part[part].append(row)
    for part in parts:
        table = markdown_table(by_part[part], [*columns, ("error", "did not serve")])
        sys.stdout.write(f"\n### Part {part} ({part_sizes[part]})\n\n{table}\n")
        if args.suite:
            sys.stdout.write(f"\n{markdown_table(by_part[part], SUITE_COLUMNS)}\n")
