"""Starter: learn from DATA_DIR/train.csv and write the model to MODEL_DIR."""

import json
import os
from pathlib import Path

import pandas as pd

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))

data = pd.read_csv(DATA_DIR / "train.csv")
# TODO: fit a real model; the mean of y is only a baseline.
MODEL_DIR.mkdir(parents=True, exist_ok=True)
(MODEL_DIR / "model.json").write_text(json.dumps({"mean": float(data["y"].mean())}))
