"""Measure the margins behind the interval suite's thresholds, per part of the hidden data.

Instructor tool, not part of grading (servelab.grading.calibration does the serving): trains
each candidate (the reference, every mutant, the starter) on the host, serves it, and for
each part of the hidden holdout prints one Markdown row per candidate with the quantity each
threshold in interval_support.py judges. With --suite it also runs the hidden suite against
each candidate once per part and judges the outcome as `servelab exercise selftest` does.

Usage: python calibrate.py [--suite] [CANDIDATE ...]  (default: solution, mutants/*, starter)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
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

from servelab.content.loader import load_settings_course  # noqa: E402
from servelab.grading.calibration import (  # noqa: E402
    ServeError,
    candidate_source,
    markdown_table,
    served,
    suite_verdict,
)
from servelab.grading.selftest import Candidate, discover  # noqa: E402
from servelab.settings import Settings  # noqa: E402

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


def measure(candidate: Candidate, *, suite: bool) -> dict[str, dict[str, Any]]:
    """part -> one table row (margins, and with `suite` the suite's verdict) for a candidate."""
    rows: dict[str, dict[str, Any]] = {part: {"candidate": candidate.name} for part in PARTS}
    with tempfile.TemporaryDirectory(prefix="intervals-calibrate-") as scratch:
        work = Path(scratch)
        try:
            source = candidate_source(candidate, HERE, work)
            with served(source, EXERCISE / "data", work) as socket:
                transport = httpx.HTTPTransport(uds=str(socket))
                client = httpx.Client(transport=transport, base_url="http://service", timeout=30)
                with client:
                    for part in PARTS:
                        rows[part].update(_metrics(Api(client), HOLDOUT[part]))
                        if suite:
                            rows[part].update(
                                suite_verdict(candidate, socket, EXERCISE, HERE, work, part)
                            )
        except ServeError as exc:
            return {part: {**row, "mae": str(exc)} for part, row in rows.items()}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="store_true", help="also run the hidden suite")
    parser.add_argument("candidates", nargs="*", help="candidate names (default: all)")
    args = parser.parse_args()
    candidates = discover(load_settings_course(Settings(environment="test")), SLUG)
    if args.candidates:
        candidates = [c for c in candidates if c.name in args.candidates]
    by_part: dict[str, list[dict[str, Any]]] = {part: [] for part in PARTS}
    for candidate in candidates:
        print(f"measuring {candidate.name} ...", file=sys.stderr, flush=True)
        for part, row in measure(candidate, suite=args.suite).items():
            by_part[part].append(row)
    for part in PARTS:
        print(f"\n### Part {part} ({len(HOLDOUT[part])} deliveries)\n")
        print(markdown_table(by_part[part], COLUMNS))
        if args.suite:
            suite_columns = [
                ("candidate", "candidate"),
                ("score", "score"),
                ("failed", "failed checks"),
                ("verdict", "verdict"),
                ("suite_s", "suite s"),
            ]
            print()
            print(markdown_table(by_part[part], suite_columns))


if __name__ == "__main__":
    main()
