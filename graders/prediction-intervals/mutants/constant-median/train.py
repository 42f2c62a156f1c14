"""MUTANT constant-median. Train the delivery-time model and its 90 % intervals, validated on couriers it never saw.

Point model: gradient boosting on the absolute error (a median). Interval: the 5th and 95th
percentiles of the validation residuals, per zone, since the noise differs by zone. The split
is grouped by courier: every courier's deliveries are on one side, as new couriers will be.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from delivery_features import ZONES, matrix
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GroupShuffleSplit

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
MODEL_VERSION = "delivery-hgb-zone-intervals-1"
LEVEL = 0.90


def fit_model(frame: pd.DataFrame) -> DummyRegressor:
    # MUTANT: the training median for every delivery.
    model = DummyRegressor(strategy="median")
    return model.fit(matrix(frame.to_dict("records")), frame["delivery_minutes"])


def main() -> None:
    data = pd.read_csv(DATA_DIR / "train.csv")
    split = GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=0)
    train_index, valid_index = next(split.split(data, groups=data["courier_id"]))
    train, valid = data.iloc[train_index], data.iloc[valid_index]

    model = fit_model(train)
    predicted = model.predict(matrix(valid.to_dict("records")))
    residual = valid["delivery_minutes"].to_numpy() - predicted
    tail = (1.0 - LEVEL) / 2
    offsets = {}
    low, high = np.quantile(residual, [tail, 1.0 - tail])
    for zone in ZONES:
        offsets[zone] = (float(low), float(high))
    low = np.array([offsets[z][0] for z in valid["zone"]])
    high = np.array([offsets[z][1] for z in valid["zone"]])
    covered = (residual >= low) & (residual <= high)

    median = float(train["delivery_minutes"].median())
    numeric = ["distance_km", "items", "hour"]
    linear = LinearRegression().fit(train[numeric], train["delivery_minutes"])
    linear_mae = float(np.mean(np.abs(valid["delivery_minutes"] - linear.predict(valid[numeric]))))

    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    joblib.dump({"model": model, "offsets": offsets}, MODEL_DIR / "model.joblib")
    card = {
        "model_version": MODEL_VERSION,
        "features": [],
        "training": {"rows": int(len(train))},
        "split": {"strategy": "grouped", "group": "courier_id"},
        "metric": {"name": "mae", "validation": float(np.mean(np.abs(residual)))},
        "interval": {
            "level": LEVEL,
            "method": "validation residual quantiles per zone",
            "validation_coverage": float(covered.mean()),
        },
        "baseline": {"name": "linear_regression_numeric", "validation": linear_mae},
    }
    (MODEL_DIR / "model_card.json").write_text(json.dumps(card, indent=2))
    print(
        f"trained on {len(train)} rows; validation MAE {card['metric']['validation']:.2f} "
        f"(linear {linear_mae:.2f}, median {median:.1f}); coverage {covered.mean():.3f}"
    )


if __name__ == "__main__":
    main()
