"""Starter: learn from DATA_DIR/train.csv and write the model and its card to MODEL_DIR.

It runs as is, and the service it feeds answers the contract, but the "model" is the median
delivery time and the interval one width for everyone. Replace both (see the lesson)."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))

data = pd.read_csv(DATA_DIR / "train.csv")
# TODO: split by courier (GroupShuffleSplit), fit a real model on the training part,
# and calibrate the interval on the residuals of the validation part, per zone.
median = float(data["delivery_minutes"].median())
low, high = np.quantile(data["delivery_minutes"] - median, [0.05, 0.95])
MODEL_DIR.mkdir(parents=True, exist_ok=True)
model = {"median": median, "low": float(low), "high": float(high)}
(MODEL_DIR / "model.json").write_text(json.dumps(model))
mae = float(np.mean(np.abs(data["delivery_minutes"] - median)))
card = {
    "model_version": "starter-median",
    "features": [],
    "training": {"rows": int(len(data))},
    "split": {"strategy": "grouped", "group": "courier_id"},
    "metric": {"name": "mae", "validation": mae},
    "interval": {"level": 0.9, "method": "training quantiles", "validation_coverage": 0.9},
    "baseline": {"name": "median", "validation": mae},
}
(MODEL_DIR / "model_card.json").write_text(json.dumps(card, indent=2))
