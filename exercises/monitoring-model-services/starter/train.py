"""Starter: train a fraud model and write a model card.

ServeLab runs `python train.py`; DATA_DIR (read-only) holds train.csv, MODEL_DIR receives
what you save. This runs as is, and leaves the decisions that matter to you (the TODOs).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
# TODO (lesson: #leakage): which columns are known when a payment is scored?
FEATURES = ["amount", "hour", "account_age_days", "distance_km"]


def main() -> None:
    data = pd.read_csv(DATA_DIR / "train.csv")
    # TODO (lesson: #temporal-split): validate on the latest rows, train on the earlier ones.
    train = valid = data
    model = LogisticRegression(max_iter=2000).fit(train[FEATURES], train["fraud"])
    auc = roc_auc_score(valid["fraud"], model.predict_proba(valid[FEATURES])[:, 1])

    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL_DIR / "model.joblib")
    # TODO (lesson: #drift-psi): save what /drift compares against (bins and training shares).
    card = {
        "model_version": "starter",
        "features": FEATURES,
        "training": {"rows": len(train)},
        "split": {"strategy": "temporal", "validation_start": "2025-10-01"},
        "metric": {"name": "roc_auc", "validation": float(auc)},
        "baseline": {"name": "none", "validation": 0.5},
    }
    (MODEL_DIR / "model_card.json").write_text(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
