"""Measure the margins behind the suite's thresholds (numbers go into CALIBRATION.md).

For the committed data and for data regenerated with other seeds, train the reference
solution in-process (its own train.py into a temporary MODEL_DIR), score the holdout with it,
and print each threshold's margin: the baseline gap, slice floors, the slice gap, the
validation optimism, and the drift streams' PSI against the 0.2 threshold. The serving and
monitoring checks are exact (counts, buckets), so they have no margin to measure: the
self-test shows them.

Usage: python calibrate.py [--seeds 1 2 3 4 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "solution"))

import monitoring_support as support  # noqa: E402
from fraud_features import NUMERIC, design_matrix  # noqa: E402

FEATURES = support.DRIFT_FEATURES


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "monitoring_generate_data", HERE / "generate_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure(train_csv: Path, hidden: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as model_dir:
        env = {**os.environ, "DATA_DIR": str(train_csv.parent), "MODEL_DIR": model_dir}
        subprocess.run(
            [sys.executable, str(HERE / "solution" / "train.py")],
            check=True,
            env=env,
            capture_output=True,
            cwd=HERE / "solution",
        )
        model = joblib.load(Path(model_dir) / "model.joblib")["model"]
        card = json.loads((Path(model_dir) / "model_card.json").read_text())
    train = pd.read_csv(train_csv)
    holdout = pd.read_csv(hidden / "holdout.csv")
    x = design_matrix(
        holdout[list(NUMERIC)].to_numpy(dtype=float),
        list(holdout["merchant_category"]),
        list(holdout["channel"]),
    )
    scores = model.predict_proba(x)[:, 1]
    auc = support.roc_auc(holdout["fraud"], scores)
    base = LogisticRegression().fit(train[["distance_km"]], train["fraud"])
    base_auc = support.roc_auc(holdout["fraud"], base.predict_proba(holdout[["distance_km"]])[:, 1])
    slices = {}
    for column in ("merchant_category", "channel"):
        for level, rows in holdout.groupby(column):
            slices[str(level)] = support.roc_auc(rows["fraud"], scores[rows.index.to_numpy()])
    categories = [slices[c] for c in support.LEVELS["merchant_category"]]
    unshifted = pd.read_csv(hidden / "stream_unshifted.csv")
    shifted = pd.read_csv(hidden / "stream_shifted.csv")
    calm = [support.psi(train[f], unshifted[f], f) for f in FEATURES]
    moved = {f: support.psi(train[f], shifted[f], f) for f in FEATURES}
    return {
        "holdout_auc": auc,
        "baseline_auc": base_auc,
        "baseline_margin": auc - base_auc - support.BASELINE_MARGIN,
        "optimism_margin": support.OPTIMISM_MAX - (card["metric"]["validation"] - auc),
        "worst_slice": min(slices.values()),
        "slice_floor_margin": min(slices.values()) - support.SLICE_FLOOR,
        "slice_gap_margin": support.SLICE_GAP_MAX - (max(categories) - min(categories)),
        "max_psi_unshifted": max(calm),
        "max_psi_unmoved_in_shifted": max(v for f, v in moved.items() if f not in support.SHIFTED),
        "min_psi_shifted": min(moved[f] for f in support.SHIFTED),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5])
    args = parser.parse_args()
    committed = HERE.parents[1] / "exercises" / HERE.name / "data" / "train.csv"
    rows = {"committed": measure(committed, HERE / "data")}
    generator = _generator()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            generator.generate(Path(tmp) / "data" / "train.csv", Path(tmp) / "hidden", seed=seed)
            rows[f"seed {seed}"] = measure(Path(tmp) / "data" / "train.csv", Path(tmp) / "hidden")
    frame = pd.DataFrame(rows).T
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame.round(3).T.to_string())
    print("\nminimum over all rows:")
    print(frame.min().round(3).to_string())
    print("\nmaximum over all rows:")
    print(frame.max().round(3).to_string())


if __name__ == "__main__":
    main()
