"""Starter: train a churn model and write it, with its model card, to MODEL_DIR.

ServeLab runs `python train.py` with DATA_DIR (read-only, holds train.csv) and
MODEL_DIR (writable, empty). Whatever you write to MODEL_DIR is there when main.py starts.
This skeleton runs, but its model is too weak and several TODOs are left for you.
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

# Lesson: #temporal-split. The validation period must come after the training period.
VALIDATION_START = "2025-09-01"
NUMERIC = ["tenure_months", "monthly_charges", "support_tickets_90d"]
# TODO (lesson: #leakage, #slices): which request fields should the model use, and how
# do you encode plan and region? Never customer_id or retention_offer_sent.
FEATURES = ["tenure_months"]


def main() -> None:
    data = pd.read_csv(DATA_DIR / "train.csv", parse_dates=["snapshot_date"])
    before = data["snapshot_date"] < pd.Timestamp(VALIDATION_START)
    train, valid = data[before], data[~before]

    model = LogisticRegression()
    model.fit(train[FEATURES], train["churned"])
    valid_auc = roc_auc_score(valid["churned"], model.predict_proba(valid[FEATURES])[:, 1])

    # TODO (lesson: #baseline): fit a simple baseline on the same rows and report its
    # validation ROC AUC; right now the model *is* the simplest baseline.

    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, MODEL_DIR / "model.joblib")
    card = {
        "model_version": "starter-0",
        "features": FEATURES,
        "training": {"rows": int(len(train))},
        "split": {"strategy": "temporal", "validation_start": VALIDATION_START},
        # Lesson: #fit-on-training-rows. Means of the training rows, not of the whole file.
        "preprocessing": {"numeric_means": {c: float(train[c].mean()) for c in NUMERIC}},
        "metric": {"name": "roc_auc", "validation": float(valid_auc)},
        "baseline": {"name": "TODO", "validation": float(valid_auc)},
    }
    (MODEL_DIR / "model_card.json").write_text(json.dumps(card, indent=2))
    print(f"trained on {len(train)} rows, validation ROC AUC {valid_auc:.3f}")


if __name__ == "__main__":
    main()
