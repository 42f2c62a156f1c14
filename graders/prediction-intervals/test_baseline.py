"""Baseline checks: the model beats the median predictor and a simple linear model."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from interval_support import (
    LINEAR_FEATURES,
    LINEAR_MARGIN,
    MEDIAN_MARGIN,
    TARGET,
    Scored,
    card_number,
    card_value,
    mae,
)
from sklearn.linear_model import LinearRegression

from servelab.grading.plugin import fail

pytestmark = pytest.mark.category("baseline")


@pytest.mark.points(4)
def test_model_card_reports_a_baseline(card: dict[str, Any]) -> None:
    """The model card reports a baseline and its validation MAE"""
    name = card_value(card, "baseline", "name")
    if not isinstance(name, str) or not name.strip():
        fail("The model card's `baseline.name` is empty; say what you compared with.",
             section="baseline")
    if card_number(card, "baseline", "validation") < 0:
        fail("`baseline.validation` is an MAE in minutes, so it cannot be negative.",
             section="baseline")
    if card_number(card, "metric", "validation") < 0:
        fail("`metric.validation` is an MAE in minutes, so it cannot be negative.",
             section="model-card")


@pytest.mark.points(6)
def test_beats_the_median_predictor(
    train: pd.DataFrame, holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """Held-out MAE is well below that of always predicting the training median"""
    truth = holdout[TARGET].to_numpy()
    model_mae = mae(truth, holdout_scores.require().prediction)
    median_mae = mae(truth, float(train[TARGET].median()))
    if model_mae > median_mae * (1.0 - MEDIAN_MARGIN):
        fail(
            # No MAE here: a constant median's own MAE *is* the grader's yardstick.
            f"On held-out deliveries your MAE is not {MEDIAN_MARGIN:.0%} below that of "
            "answering train.csv's median delivery time "
            "for everyone. Distance, items, hour, zone and vehicle explain much of a delivery's "
            "time: a model must use them.",
            section="baseline",
        )


@pytest.mark.points(10)
def test_beats_a_linear_model(
    train: pd.DataFrame, holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """Held-out MAE beats a linear regression on distance, items and hour by a margin"""
    linear = LinearRegression().fit(train[LINEAR_FEATURES], train[TARGET])
    truth = holdout[TARGET].to_numpy()
    linear_mae = mae(truth, linear.predict(holdout[LINEAR_FEATURES]))
    model_mae = mae(truth, holdout_scores.require().prediction)
    if model_mae > linear_mae * (1.0 - LINEAR_MARGIN):
        fail(
            f"On held-out deliveries your MAE is not {LINEAR_MARGIN:.0%} below that of a linear "
            "regression on distance_km, items and hour fit on train.csv. Compare with it on "
            "your own validation rows: minutes per kilometre depend on the vehicle and the "
            "zone, and rush hours are not a straight line in the hour.",
            section="baseline",
        )
