"""Measure the margins behind the suite's thresholds, for the reference and every mutant.

Instructor tool, not part of grading: trains each candidate on the host (same package
versions as the runtime image), serves it with uvicorn on a Unix socket, and prints one
Markdown row per candidate with the quantity each threshold in churn_support.py judges.

Usage: python calibrate.py [CANDIDATE_DIR ...]   (default: solution, mutants/*, starter)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
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

REPO = HERE.parents[1]
DATA = REPO / "exercises" / "fastapi-for-ml-apis" / "data"
HOLDOUT = pd.read_csv(HERE / "data" / "holdout.csv", parse_dates=["snapshot_date"])
TRAIN = pd.read_csv(DATA / "train.csv", parse_dates=["snapshot_date"])
COLUMNS = [
    ("candidate", "candidate"),
    ("optimism", "claimed − holdout AUC (≤ 0.07)"),
    ("beat_baseline", "holdout − baseline AUC (≥ 0.02)"),
    ("min_upper", "lowest slice CI upper end (≥ 0.60)"),
    ("worst_slice", "worst slice"),
    ("gap", "slice gap (≤ 0.25)"),
    ("means_rel", "max rel. error of numeric_means (≤ 1e-6)"),
    ("rows_diff", "training.rows − expected (= 0)"),
    ("id_change", "max change under id shuffle (≤ 1e-9)"),
    ("p95_ms", "p95 latency on host, ms (≤ 300)"),
]


def _serve(folder: Path, work: Path) -> tuple[subprocess.Popen[bytes], Path] | None:
    env = {**os.environ, "DATA_DIR": str(DATA), "MODEL_DIR": str(work / "model")}
    trained = subprocess.run(
        [sys.executable, "train.py"], cwd=folder, env=env, capture_output=True, timeout=300
    )
    if trained.returncode != 0:
        return None
    sock = work / "service.sock"
    uvicorn = Path(sys.executable).with_name("uvicorn")
    server = subprocess.Popen(
        [str(uvicorn), "main:app", "--uds", str(sock), "--log-level", "error"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server, sock


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


def measure(folder: Path, startup_seconds: float = 20.0) -> dict[str, Any]:
    row: dict[str, Any] = {"candidate": folder.name}
    with tempfile.TemporaryDirectory(prefix="churn-calibrate-") as scratch:
        source = folder
        if folder.parent.name == "mutants":  # a mutant holds only what differs from solution/
            source = Path(scratch) / "src"
            shutil.copytree(HERE / "solution", source, ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copytree(folder, source, dirs_exist_ok=True)
        served = _serve(source, Path(scratch))
        if served is None:
            return {**row, "optimism": "train failed"}
        server, sock = served
        try:
            client = httpx.Client(
                transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://service"
            )
            if not _wait_healthy(client, startup_seconds):
                return {**row, "optimism": f"not healthy within {startup_seconds:g} s"}
            row.update(_metrics(Api(client)))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return row


def _metrics(api: Api) -> dict[str, Any]:
    card = json.loads(api.get("/model-card").text)
    labels = HOLDOUT["churned"].to_numpy()
    scores = score_records(api, records(HOLDOUT)).require()
    holdout_auc = auc(labels, scores)
    baseline = LogisticRegression().fit(TRAIN[["tenure_months"]], TRAIN["churned"])
    baseline_auc = auc(labels, baseline.predict_proba(HOLDOUT[["tenure_months"]])[:, 1])
    slices = {}
    for column in ("region", "plan"):
        for value, group in HOLDOUT.groupby(column):
            idx = group.index.to_numpy()
            slices[f"{column}={value}"] = (
                auc(labels[idx], scores[idx]),
                bootstrap_interval(labels[idx], scores[idx])[1],
            )
    worst = min(slices, key=lambda k: slices[k][1])
    points = [p for p, _ in slices.values()]
    start = pd.Timestamp(card["split"]["validation_start"])
    rows = TRAIN[TRAIN["snapshot_date"] < start]
    means = card["preprocessing"]["numeric_means"]
    rel = max(abs(means[c] - rows[c].mean()) / abs(rows[c].mean()) for c in NUMERIC)
    sample = HOLDOUT.sample(n=200, random_state=11)
    original = records(sample)
    shuffled_ids = np.random.default_rng(5).permutation([b["customer_id"] for b in original])
    permuted = [{**b, "customer_id": int(i)} for b, i in zip(original, shuffled_ids, strict=True)]
    change = np.abs(score_records(api, original).require() - score_records(api, permuted).require())
    timings = []
    for body in original[:60]:
        started = time.perf_counter()
        api.post("/predict", json=body)
        timings.append(time.perf_counter() - started)
    return {
        "optimism": f"{card['metric']['validation'] - holdout_auc:+.3f}",
        "beat_baseline": f"{holdout_auc - baseline_auc:+.3f}",
        "min_upper": f"{slices[worst][1]:.3f}",
        "worst_slice": worst,
        "gap": f"{max(points) - min(points):.3f}",
        "means_rel": f"{rel:.1e}",
        "rows_diff": f"{card['training']['rows'] - len(rows):+d}",
        "id_change": f"{change.max():.1e}",
        "p95_ms": f"{np.percentile(timings, 95) * 1000:.1f}",
    }


def main() -> None:
    folders = [Path(a).resolve() for a in sys.argv[1:]] or [
        HERE / "solution",
        *sorted(p for p in (HERE / "mutants").iterdir() if p.is_dir()),
        REPO / "exercises" / "fastapi-for-ml-apis" / "starter",
    ]
    print("| " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for folder in folders:
        startup = 5.0 if folder.name == "slow-startup" else 20.0
        row = measure(folder, startup)
        print("| " + " | ".join(str(row.get(key, "")) for key, _ in COLUMNS) + " |", flush=True)


if __name__ == "__main__":
    main()
