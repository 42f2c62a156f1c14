"""Leakage checks: no post-event column, no memorised couriers or stores, honest validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from interval_support import (
    COVERAGE_OPTIMISM,
    FIELDS,
    FORBIDDEN_FEATURES,
    ID_TOLERANCE,
    MAE_OPTIMISM,
    TARGET,
    Api,
    Scored,
    card_number,
    card_value,
    mae,
    records,
    rounded,
    score_records,
)

from servelab.grading.plugin import fail

pytestmark = pytest.mark.category("leakage")


@pytest.mark.points(6)
def test_features_exclude_ids_and_post_event_columns(card: dict[str, Any]) -> None:
    """The model card's features exclude customer_rating and the order, courier and store ids"""
    features = card_value(card, "features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        fail("The model card's `features` is not a list of field names.", section="model-card")
    if "customer_rating" in features:
        fail(
            "Your model uses `customer_rating`. The customer rates a delivery after it has "
            "arrived, and a slow one gets fewer stars: the column knows the answer, so it "
            "flatters validation and does not exist when a prediction is requested.",
            section="post-event-columns",
        )
    used_ids = [f for f in FORBIDDEN_FEATURES if f in features and f != "customer_rating"]
    if used_ids:
        fail(
            f"Your model uses {', '.join(used_ids)}. The couriers and stores the service will "
            "see next are not in train.csv, so what a model remembers about one id does not "
            "carry over; with a random split it still looks like skill.",
            section="grouped-split",
        )
    if not set(features) <= set(FIELDS):
        fail(
            "`features` lists names that are not request fields. List the request fields your "
            f"model uses, out of {', '.join(FIELDS)} (derived columns count as their source).",
            section="model-card",
        )


@pytest.mark.points(5)
def test_predictions_ignore_courier_and_store_ids(
    api: Api, train: pd.DataFrame, holdout: pd.DataFrame
) -> None:
    """Predictions do not change when the courier and store ids change"""
    sample = holdout.sample(n=200, random_state=11)
    original = records(sample)
    rng = np.random.default_rng(5)
    # Ids the service has seen in train.csv: a model that remembers them answers differently.
    couriers = rng.choice(train["courier_id"].unique(), size=len(original))
    stores = rng.choice(train["store_id"].unique(), size=len(original))
    changed_ids = [
        {**body, "courier_id": int(c), "store_id": int(s)}
        for body, c, s in zip(original, couriers, stores, strict=True)
    ]
    before = score_records(api, original).require()
    after = score_records(api, changed_ids).require()
    moved = np.maximum.reduce(
        [
            np.abs(before.prediction - after.prediction),
            np.abs(before.lower - after.lower),
            np.abs(before.upper - after.upper),
        ]
    )
    changed = int(np.sum(moved > ID_TOLERANCE))
    if changed:
        fail(
            f"{changed} of {len(original)} answers changed when only the courier and store ids "
            "were changed to ids from train.csv. The service will mostly meet couriers and "
            "stores it has never seen; what it remembers about known ids is not evidence it "
            "can carry over, and a random split hides that.",
            section="grouped-split",
        )


@pytest.mark.points(5)
def test_validation_mae_is_not_optimistic(
    card: dict[str, Any], holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """The claimed validation MAE is not far below the held-out MAE"""
    claimed = card_number(card, "metric", "validation")
    measured = mae(holdout[TARGET].to_numpy(), holdout_scores.require().prediction)
    if claimed < measured * (1.0 - MAE_OPTIMISM):
        fail(
            f"Your model card claims a validation MAE more than {MAE_OPTIMISM:.0%} below the "
            f"MAE measured on deliveries by new couriers from new stores "
            f"({rounded(measured):.2f} minutes). Evidence that optimistic is the mark of "
            "leakage: a column recorded after the delivery, or validation rows whose couriers "
            "and stores the model had already seen.",
            section="grouped-split",
        )


@pytest.mark.points(4)
def test_validation_coverage_is_not_optimistic(
    card: dict[str, Any], holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """The claimed validation coverage is not far above the held-out coverage"""
    claimed = card_number(card, "interval", "validation_coverage")
    measured = float(holdout_scores.require().covers(holdout[TARGET].to_numpy()).mean())
    if claimed - measured > COVERAGE_OPTIMISM:
        fail(
            f"Your model card claims a validation coverage more than {COVERAGE_OPTIMISM:.2f} "
            f"above the coverage measured on held-out deliveries ({rounded(measured):.2f}). "
            "Intervals calibrated on residuals the model had half-seen (a random split over "
            "repeated couriers, or training rows) are too narrow for new ones.",
            section="grouped-split",
        )
