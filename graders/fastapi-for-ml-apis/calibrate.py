"""Measure the margins behind the suite's thresholds, per part of the hidden data.

Instructor tool, not part of grading: trains each candidate (the reference, every mutant,
the starter) on the host (same package versions as the runtime image), serves it with
uvicorn on a Unix socket and, for each part of the hidden holdout (data/final/ and
data/feedback/), prints one Markdown row per candidate with the quantity each threshold in
churn_support.py judges. With --suite it also runs the hidden suite itself against each
candidate once per part (a temporary grader folder whose data/holdout.csv is that part) and
judges the outcome as `servelab exercise selftest` does: the reference at full marks, each
mutant failing exactly the checks its mutant.toml declares, on both parts.

Usage: python calibrate.py [--suite] [CANDIDATE_DIR ...]  (default: solution, mutants/*, starter)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from churn_support import (  # noqa: E402
    NUMERIC,
    Api,
    auc,
    bootstrap_interval,
    records,
    score_records,
)

from servelab.db.models.grading import SubmissionStatus  # noqa: E402
from servelab.grading.pipeline import GradeOutcome  # noqa: E402
from servelab.grading.results import ResultDocument, read_result_file  # noqa: E402
from servelab.grading.selftest import Candidate, Kind, discover, judge  # noqa: E402
from servelab.settings import Settings  # noqa: E402

SLUG = "fastapi-for-ml-apis"
REPO = HERE.parents[1]
EXERCISE = REPO / "exercises" / SLUG
DATA = EXERCISE / "data"
PARTS = ("final", "feedback")
TRAIN = pd.read_csv(DATA / "train.csv", parse_dates=["snapshot_date"])
HOLDOUT = {
    part: pd.read_csv(HERE / "data" / part / "holdout.csv", parse_dates=["snapshot_date"])
    for part in PARTS
}
LATENCY_REQUESTS = 20
COLUMNS = [
    ("candidate", "candidate"),
    ("optimism", "claimed − holdout AUC (≤ 0.07)"),
    ("beat_baseline", "holdout − baseline AUC (≥ 0.02)"),
    ("region_upper", "lowest region CI upper end (≥ 0.60)"),
    ("plan_upper", "lowest plan CI upper end (≥ 0.60)"),
    ("islands", "islands AUC (upper end)"),
    ("gap", "slice gap (≤ 0.25)"),
    ("means_rel", "max rel. error of numeric_means (≤ 1e-6)"),
    ("rows_diff", "training.rows − expected (= 0)"),
    ("id_change", "max change under id shuffle (≤ 1e-9)"),
    ("p95_ms", "p95 latency on host, ms (≤ 300)"),
]


def _source(candidate: Candidate, scratch: Path) -> Path:
    """The folder to serve: a mutant holds only what differs, laid over a copy of solution/."""
    if candidate.kind != Kind.MUTANT:
        return candidate.path
    source = scratch / "src"
    ignore = shutil.ignore_patterns("__pycache__", "mutant.toml")
    shutil.copytree(HERE / "solution", source, ignore=ignore)
    shutil.copytree(candidate.path, source, ignore=ignore, dirs_exist_ok=True)
    return source


class ServeError(Exception):
    """The candidate did not train, or its service did not become healthy in time."""


@contextmanager
def served(folder: Path, work: Path, startup_seconds: float = 20.0) -> Iterator[Path]:
    """Train `folder` (python train.py) and serve it with uvicorn; yields the Unix socket."""
    env = {**os.environ, "DATA_DIR": str(DATA), "MODEL_DIR": str(work / "model")}
    trained = subprocess.run(
        [sys.executable, "train.py"], cwd=folder, env=env, capture_output=True, timeout=300
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
        transport = httpx.HTTPTransport(uds=str(socket))
        with httpx.Client(transport=transport, base_url="http://service", timeout=10) as client:
            if not _wait_healthy(client, startup_seconds):
                raise ServeError(f"not healthy within {startup_seconds:g} s")
        yield socket
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_healthy(client: httpx.Client, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    return False


def measure(candidate: Candidate, *, suite: bool) -> dict[str, dict[str, Any]]:
    """part -> one table row (margins, and with `suite` the suite's verdict) for a candidate."""
    rows: dict[str, dict[str, Any]] = {part: {"candidate": candidate.name} for part in PARTS}
    startup = 5.0 if candidate.name == "slow-startup" else 20.0
    with tempfile.TemporaryDirectory(prefix="churn-calibrate-") as scratch:
        work = Path(scratch)
        try:
            with served(_source(candidate, work), work, startup) as socket:
                transport = httpx.HTTPTransport(uds=str(socket))
                client = httpx.Client(transport=transport, base_url="http://service", timeout=10)
                with client:
                    for part in PARTS:
                        rows[part].update(_metrics(Api(client), HOLDOUT[part]))
                        if suite:
                            rows[part].update(_suite_verdict(candidate, socket, work, part))
        except ServeError as exc:
            return {part: {**row, "optimism": str(exc)} for part, row in rows.items()}
    return rows


def _metrics(api: Api, holdout: pd.DataFrame) -> dict[str, Any]:
    card = json.loads(api.get("/model-card").text)
    labels = holdout["churned"].to_numpy()
    scores = score_records(api, records(holdout)).require()
    holdout_auc = auc(labels, scores)
    baseline = LogisticRegression().fit(TRAIN[["tenure_months"]], TRAIN["churned"])
    baseline_auc = auc(labels, baseline.predict_proba(holdout[["tenure_months"]])[:, 1])
    slices = {}
    for column in ("region", "plan"):
        for value, group in holdout.groupby(column):
            idx = group.index.to_numpy()
            slices[f"{column}={value}"] = (
                auc(labels[idx], scores[idx]),
                bootstrap_interval(labels[idx], scores[idx])[1],
            )
    lowest = {
        column: min((k for k in slices if k.startswith(column)), key=lambda k: slices[k][1])
        for column in ("region", "plan")
    }
    points = [p for p, _ in slices.values()]
    islands_auc, islands_upper = slices["region=islands"]
    start = pd.Timestamp(card["split"]["validation_start"])
    rows = TRAIN[TRAIN["snapshot_date"] < start]
    means = card["preprocessing"]["numeric_means"]
    rel = max(abs(means[c] - rows[c].mean()) / abs(rows[c].mean()) for c in NUMERIC)
    sample = holdout.sample(n=200, random_state=11)
    original = records(sample)
    shuffled_ids = np.random.default_rng(5).permutation([b["customer_id"] for b in original])
    permuted = [{**b, "customer_id": int(i)} for b, i in zip(original, shuffled_ids, strict=True)]
    change = np.abs(score_records(api, original).require() - score_records(api, permuted).require())
    timings = []
    for body in original[:LATENCY_REQUESTS]:
        started = time.perf_counter()
        api.post("/predict", json=body)
        timings.append(time.perf_counter() - started)
    return {
        "optimism": f"{card['metric']['validation'] - holdout_auc:+.3f}",
        "beat_baseline": f"{holdout_auc - baseline_auc:+.3f}",
        "region_upper": f"{slices[lowest['region']][1]:.3f} ({lowest['region'][7:]})",
        "plan_upper": f"{slices[lowest['plan']][1]:.3f} ({lowest['plan'][5:]})",
        "islands": f"{islands_auc:.2f} ({islands_upper:.2f})",
        "gap": f"{max(points) - min(points):.3f}",
        "means_rel": f"{rel:.1e}",
        "rows_diff": f"{card['training']['rows'] - len(rows):+d}",
        "id_change": f"{change.max():.1e}",
        "p95_ms": f"{np.percentile(timings, 95) * 1000:.1f}",
    }


def part_grader_dir(work: Path, part: str) -> Path:
    """A copy of the suite whose data/holdout.csv is one part of the hidden data."""
    grader = work / f"grader-{part}"
    ignore = shutil.ignore_patterns("data", "solution", "mutants", "__pycache__", "*.md")
    shutil.copytree(HERE, grader, ignore=ignore)
    (grader / "data").mkdir()
    shutil.copyfile(HERE / "data" / part / "holdout.csv", grader / "data" / "holdout.csv")
    return grader


def run_suite(socket: Path, grader: Path, results: Path, timeout: float = 600) -> ResultDocument:
    """Run the hidden suite in `grader` (as the runner does) against the service on `socket`."""
    config = results.with_name("pytest.ini")
    config.write_text("[pytest]\naddopts =\n", encoding="utf-8")
    command = [
        *(sys.executable, "-m", "pytest", "-p", "servelab.grading.plugin"),
        *("-p", "no:cacheprovider", "-p", "_hypothesis_pytestplugin", "-c", str(config)),
        *("--rootdir", str(grader), "--confcutdir", str(grader), "-q", "--no-header"),
        f"--servelab-socket={socket}",
        f"--servelab-exercise-dir={EXERCISE}",
        f"--servelab-grader-dir={grader}",
        f"--servelab-results={results}",
        str(grader),
    ]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    subprocess.run(command, cwd=results.parent, env=env, capture_output=True, timeout=timeout)
    return read_result_file(results)


def _suite_verdict(candidate: Candidate, socket: Path, work: Path, part: str) -> dict[str, Any]:
    """The hidden suite's outcome on one part, judged as the self-test judges it."""
    started = time.monotonic()
    document = run_suite(socket, part_grader_dir(work, part), work / f"results-{part}.json")
    seconds = time.monotonic() - started
    verdict = judge(candidate, GradeOutcome(SubmissionStatus.GRADED, result=document))
    return {
        "score": f"{document.score:g}",
        "failed": ", ".join(verdict.failed_checks) or "none",
        "verdict": "as declared" if verdict.ok else "SURPRISE: " + "; ".join(verdict.surprises),
        "suite_s": f"{seconds:.0f}",
    }


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    lines = ["| " + " | ".join(title for _, title in columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(str(r.get(key, "")) for key, _ in columns) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="store_true", help="also run the hidden suite")
    parser.add_argument("candidates", nargs="*", help="candidate names (default: all)")
    args = parser.parse_args()
    settings = Settings(environment="test")
    candidates = discover(settings, SLUG)
    if args.candidates:
        candidates = [c for c in candidates if c.name in args.candidates]
    by_part: dict[str, list[dict[str, Any]]] = {part: [] for part in PARTS}
    for candidate in candidates:
        print(f"measuring {candidate.name} ...", file=sys.stderr, flush=True)
        for part, row in measure(candidate, suite=args.suite).items():
            by_part[part].append(row)
    for part in PARTS:
        print(f"\n### Part {part} ({len(HOLDOUT[part])} customers)\n")
        print(_table(by_part[part], COLUMNS))
        if args.suite:
            suite_columns = [
                ("candidate", "candidate"),
                ("score", "score"),
                ("failed", "failed checks"),
                ("verdict", "verdict"),
                ("suite_s", "suite s"),
            ]
            print()
            print(_table(by_part[part], suite_columns))


if __name__ == "__main__":
    main()
