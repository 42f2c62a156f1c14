"""Measure the margins behind the interval suite's thresholds, per part of the hidden data.

Instructor tool, not part of grading (servelab.grading.calibration does the serving): trains
each candidate (the reference, every mutant, the starter) on the host, serves it, and for
each part of the hidden holdout prints one Markdown row per candidate with the quantity each
threshold in interval_support.py judges. With --suite it also runs the hidden suite against
each candidate once per part and judges the outcome as `servelab exercise selftest` does.

Usage: python calibrate.py [--suite] [CANDIDATE ...]  (default: solution, mutants/*, starter)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from interval_support import (  # noqa: E402
    LEVEL,
    LINEAR_FEATURES,
    TARGET,
    Api,
    coverage_interval,
    mae,
    records,
    score_records,
)

from servelab.grading import calibration  # noqa: E402

SLUG = "prediction-intervals"
REPO = HERE.parents[1]
EXERCISE = REPO / "exercises" / SLUG
PARTS = ("final", "feedback")
TRAIN = pd.read_csv(EXERCISE / "data" / "train.csv")
HOLDOUT = {part: pd.read_csv(HERE / "data" / part / "holdout.csv") for part in PARTS}
COLUMNS = [
    ("candidate", "candidate"),
    ("mae", "holdout MAE"),
    ("vs_median", "MAE / median's (≤ 0.80)"),
    ("vs_linear", "MAE / linear's (≤ 0.96)"),
    ("mae_optimism", "claimed / holdout MAE (≥ 0.90)"),
    ("coverage", "coverage [95 % CI] (meets 0.87–0.93)"),
    ("coverage_optimism", "claimed − holdout coverage (≤ 0.035)"),
    ("zone", "coverage per zone (meets 0.80–0.96)"),
    ("vehicle", "coverage per vehicle (meets 0.80–0.96)"),
    ("width", "mean width / reference (≤ 1.0)"),
    ("ordered", "rows out of order (= 0)"),
    ("id_change", "max change with train ids (≤ 1e-6)"),
]


def _reference_width() -> float:
    linear = LinearRegression().fit(TRAIN[LINEAR_FEATURES], TRAIN[TARGET])
    residual = np.abs(TRAIN[TARGET].to_numpy() - linear.predict(TRAIN[LINEAR_FEATURES]))
    return 2.0 * float(np.quantile(residual, LEVEL))


def _per_slice(column: str, holdout: pd.DataFrame, covered: np.ndarray) -> str:
    cells = []
    for value, index in holdout.groupby(column, sort=True).groups.items():
        point, low, high = coverage_interval(covered[holdout.index.get_indexer(index)])
        cells.append(f"{value} {point:.3f} [{low:.2f}, {high:.2f}]")
    return "; ".join(cells)


def _metrics(api: Api, holdout: pd.DataFrame) -> dict[str, Any]:
    card = json.loads(api.get("/model-card").text)
    truth = holdout[TARGET].to_numpy()
    got = score_records(api, records(holdout)).require()
    model_mae = mae(truth, got.prediction)
    linear = LinearRegression().fit(TRAIN[LINEAR_FEATURES], TRAIN[TARGET])
    covered = got.covers(truth)
    point, low, high = coverage_interval(covered)
    sample = records(holdout.sample(n=200, random_state=11))
    rng = np.random.default_rng(5)
    couriers = rng.choice(TRAIN["courier_id"].unique(), size=len(sample))
    stores = rng.choice(TRAIN["store_id"].unique(), size=len(sample))
    changed = [
        {**b, "courier_id": int(c), "store_id": int(s)}
        for b, c, s in zip(sample, couriers, stores, strict=True)
    ]
    before, after = (score_records(api, bodies).require() for bodies in (sample, changed))
    out_of_order = np.sum(
        (got.lower > got.upper) | (got.prediction < got.lower) | (got.prediction > got.upper)
    )
    return {
        "mae": f"{model_mae:.2f}",
        "vs_median": f"{model_mae / mae(truth, float(TRAIN[TARGET].median())):.3f}",
        "vs_linear": f"{model_mae / mae(truth, linear.predict(holdout[LINEAR_FEATURES])):.3f}",
        "mae_optimism": f"{card['metric']['validation'] / model_mae:.3f}",
        "coverage": f"{point:.3f} [{low:.3f}, {high:.3f}]",
        "coverage_optimism": f"{card['interval']['validation_coverage'] - point:+.3f}",
        "zone": _per_slice("zone", holdout, covered),
        "vehicle": _per_slice("vehicle", holdout, covered),
        "width": f"{float(np.mean(got.width)) / _reference_width():.3f}",
        "ordered": f"{int(out_of_order)}",
        "id_change": f"{float(np.max(np.abs(before.prediction - after.prediction))):.1e}",
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
        {part: f"{len(HOLDOUT[part])} deliveries" for part in PARTS},
    )
