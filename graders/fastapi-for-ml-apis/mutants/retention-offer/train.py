"""Train the churn model on the rows before the validation split and write a model card."""

# MUTANT: trained with retention_offer_sent, a column recorded after the outcome;
# serving fills it with 0.

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from churn_features import FEATURES, NUMERIC, design_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

DATA_DIR = Path(os.environ.get("DATA_DIR", "data"))
MODEL_DIR = Path(os.environ.get("MODEL_DIR", "model"))
VALIDATION_START = "2025-09-01"
MODEL_VERSION = "churn-logreg-2025-09"


def _design(frame: pd.DataFrame, means: dict[str, float], stds: dict[str, float]):
    base = design_matrix(
        frame[list(NUMERIC)].to_numpy(), list(frame["plan"]), list(frame["region"]), means, stds
    )
    return np.hstack([base, frame[["retention_offer_sent"]].to_numpy(dtype=float)])


def main() -> None:
    data = pd.read_csv(DATA_DIR / "train.csv", parse_dates=["snapshot_date"])
    before = data["snapshot_date"] < pd.Timestamp(VALIDATION_START)
    train, valid = data[before], data[~before]

    # Scaling statistics come from the training rows only: the validation rows
    # stand in for the future and must not shape the model in any way.
    means = {c: float(train[c].mean()) for c in NUMERIC}
    stds = {c: float(train[c].std()) for c in NUMERIC}

    model = LogisticRegression(C=1.0, max_iter=5000)
    model.fit(_design(train, means, stds), train["churned"])
    valid_scores = model.predict_proba(_design(valid, means, stds))[:, 1]
    valid_auc = roc_auc_score(valid["churned"], valid_scores)

    baseline = LogisticRegression().fit(train[["tenure_months"]], train["churned"])
    baseline_auc = roc_auc_score(
        valid["churned"], baseline.predict_proba(valid[["tenure_months"]])[:, 1]
    )

    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    joblib.dump({"model": model, "means": means, "stds": stds}, MODEL_DIR / "model.joblib")
    card = {
        "model_version": MODEL_VERSION,
        "features": [*FEATURES, "retention_offer_sent"],
        "training": {"rows": int(len(train))},
        "split": {"strategy": "temporal", "validation_start": VALIDATION_START},
        "preprocessing": {"numeric_means": means},
        "metric": {"name": "roc_auc", "validation": float(valid_auc)},
        "baseline": {"name": "logistic_regression_tenure_only", "validation": float(baseline_auc)},
    }
    (MODEL_DIR / "model_card.json").write_text(json.dumps(card, indent=2))
    print(
        f"trained on {len(train)} rows; validation ROC AUC {valid_auc:.3f} "
        f"(baseline {baseline_auc:.3f})"
    )


if __name__ == "__main__":
    main()
