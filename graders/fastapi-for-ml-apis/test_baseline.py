"""Baseline checks: the model is worth serving compared with the simplest honest alternative."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from churn_support import BASELINE_MARGIN, Scored, auc, card_number, card_value, fail
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.category("baseline")


@pytest.mark.points(5)
def test_model_card_reports_a_baseline(card: dict[str, Any]) -> None:
    """The model card reports a baseline and its validation ROC AUC"""
    name = card_value(card, "baseline", "name")
    if not isinstance(name, str) or not name.strip():
        fail("The model card's `baseline.name` is empty; say what you compared with.", "baseline")
    value = card_number(card, "baseline", "validation")
    if not 0.0 <= value <= 1.0:
        fail("`baseline.validation` is a ROC AUC, so it must lie in [0, 1].", "baseline")
    model_value = card_number(card, "metric", "validation")
    if not 0.0 <= model_value <= 1.0:
        fail("`metric.validation` is a ROC AUC, so it must lie in [0, 1].", "model-card")


@pytest.mark.points(15)
def test_beats_the_graders_baseline_on_holdout(
    train: pd.DataFrame, holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """Held-out ROC AUC beats a tenure-only logistic regression by a margin"""
    baseline = LogisticRegression().fit(train[["tenure_months"]], train["churned"])
    baseline_auc = auc(
        holdout["churned"].to_numpy(), baseline.predict_proba(holdout[["tenure_months"]])[:, 1]
    )
    model_auc = auc(holdout["churned"].to_numpy(), holdout_scores.require())
    if model_auc < baseline_auc + BASELINE_MARGIN:
        fail(
            "On held-out customers your model does not beat, by the required margin of "
            f"{BASELINE_MARGIN:.2f} ROC AUC, a logistic regression on `tenure_months` alone "
            "fit on train.csv. A model that a one-feature baseline matches is not worth its "
            "complexity; check that it learns from every useful field and is not overfit "
            "(compare its validation score with the baseline's on the same rows).",
            "baseline",
        )
