"""Measure the margins behind the suite's thresholds, per part of the hidden data.

Instructor tool, not part of grading: trains each candidate (the reference, every mutant,
the starter) on the host (same package versions as the runtime image), serves it with
uvicorn on a Unix socket (servelab.grading.calibration does the serving) and, for each part
of the hidden holdout (data/final/ and data/feedback/), prints one Markdown row per candidate with the quantity each threshold in
churn_support.py judges. With --suite it also runs the hidden suite itself against each
candidate once per part (a temporary grader folder whose data/holdout.csv is that part) and
judges the outcome as `servelab exercise selftest` does: the reference at full marks, each
mutant failing exactly the checks its mutant.toml declares, on both parts.

Usage: python calibrate.py [--suite] [CANDIDATE_DIR ...]  (default: solution, mutants/*, starter)
"""

from __future__ import annotations

import json
import sys
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

from servelab.grading import calibration  # noqa: E402

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


def _part_metrics(client: httpx.Client, part: str) -> dict[str, Any]:
    return _metrics(Api(client), HOLDOUT[part])


if __name__ == "__main__":
    calibration.main(
        __doc__.splitlines()[0],
        SLUG,
        HERE,
        COLUMNS,
        _part_metrics,
        {part: f"{len(HOLDOUT[part])} customers" for part in PARTS},
        startup_seconds=lambda candidate: 5.0 if candidate.name == "slow-startup" else 20.0,
    )
