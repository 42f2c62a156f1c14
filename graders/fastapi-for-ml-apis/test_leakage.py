"""Leakage checks: nothing from the future or from the extract's artefacts reaches the model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from churn_support import (
    FIELDS,
    MEAN_RELATIVE_TOLERANCE,
    NUMERIC,
    OPTIMISM_TOLERANCE,
    PROBABILITY_TOLERANCE,
    Api,
    Scored,
    auc,
    card_number,
    card_split,
    card_value,
    fail,
    records,
    rounded,
    score_records,
)

pytestmark = pytest.mark.category("leakage")


@pytest.mark.points(6)
def test_features_exclude_id_and_post_outcome_columns(card: dict[str, Any]) -> None:
    """The model card's features exclude customer_id and retention_offer_sent"""
    features = card_value(card, "features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        fail("The model card's `features` is not a list of field names.", "model-card")
    if "retention_offer_sent" in features:
        fail(
            "Your model uses `retention_offer_sent`. That column is recorded after the outcome "
            "(offers go to customers already leaving), so it is unknown when a prediction is "
            "requested: it inflates validation scores and is absent in production.",
            "leakage",
        )
    if "customer_id" in features:
        fail(
            "Your model uses `customer_id`. An identifier carries no information about a "
            "customer; in train.csv it only tracks how the extract was ordered, a pattern that "
            "does not hold for new customers.",
            "leakage",
        )
    if not set(features) <= set(FIELDS):
        fail(
            "`features` lists names that are not request fields. List the request fields your "
            f"model uses, out of {', '.join(FIELDS)} (derived columns count as their source "
            "field).",
            "model-card",
        )


@pytest.mark.points(5)
def test_predictions_ignore_customer_id(api: Api, holdout: pd.DataFrame) -> None:
    """Predictions do not change when customer ids are permuted"""
    sample = holdout.sample(n=200, random_state=11)
    original = records(sample)
    rng = np.random.default_rng(5)
    permuted_ids = rng.permutation([body["customer_id"] for body in original])
    permuted = [
        {**body, "customer_id": int(new_id)}
        for body, new_id in zip(original, permuted_ids, strict=True)
    ]
    before = score_records(api, original).require()
    after = score_records(api, permuted).require()
    changed = int(np.sum(np.abs(before - after) > PROBABILITY_TOLERANCE))
    if changed:
        fail(
            f"{changed} of {len(original)} predictions changed when only the customer ids were "
            "shuffled. The id must not influence the model: it is a label for a row, and any "
            "pattern it shows in train.csv is an artefact of how the file was made.",
            "leakage",
        )


def _training_rows(train: pd.DataFrame, card: dict[str, Any]) -> pd.DataFrame:
    start = card_split(card)
    return train[train["snapshot_date"] < pd.Timestamp(start)]


@pytest.mark.points(4)
def test_training_rows_match_the_split(card: dict[str, Any], train: pd.DataFrame) -> None:
    """training.rows counts exactly the rows before validation_start"""
    rows = card_value(card, "training", "rows")
    expected = len(_training_rows(train, card))
    if not isinstance(rows, int) or isinstance(rows, bool):
        fail("The model card's `training.rows` is not an integer.", "model-card")
    if rows != expected:
        more_or_less = "more" if rows > expected else "fewer"
        fail(
            f"`training.rows` counts {more_or_less} rows than train.csv has before your "
            "`validation_start`. The served model must be fit on every one of those rows and "
            "no other: rows from the validation period leak the future, and dropped rows leave "
            "customers unseen.",
            "temporal-split",
        )


@pytest.mark.points(5)
def test_numeric_means_match_the_training_rows(card: dict[str, Any], train: pd.DataFrame) -> None:
    """preprocessing.numeric_means are the means of the rows before validation_start"""
    rows = _training_rows(train, card)
    everything = train
    wrong = []
    whole_file = 0
    for column in NUMERIC:
        claimed = card_number(card, "preprocessing", "numeric_means", column)
        expected = float(rows[column].mean())
        if not math.isclose(claimed, expected, rel_tol=MEAN_RELATIVE_TOLERANCE, abs_tol=1e-9):
            wrong.append(column)
            whole = float(everything[column].mean())
            whole_file += math.isclose(claimed, whole, rel_tol=MEAN_RELATIVE_TOLERANCE)
    if wrong:
        hint = (
            " They match the whole file instead: the scaler saw the validation rows."
            if whole_file == len(wrong)
            else ""
        )
        fail(
            f"`numeric_means` for {', '.join(wrong)} are not the means of the rows before "
            f"`validation_start`.{hint} Preprocessing is part of the model: fit it on the "
            "training rows only, or validation scores are computed on data the model has "
            "already seen.",
            "fit-on-training-rows",
        )


@pytest.mark.points(5)
def test_validation_auc_is_not_optimistic(
    card: dict[str, Any], holdout_scores: Scored, holdout: pd.DataFrame
) -> None:
    """The claimed validation ROC AUC is not far above the held-out ROC AUC"""
    claimed = card_number(card, "metric", "validation")
    measured = auc(holdout["churned"].to_numpy(), holdout_scores.require())
    if claimed - measured > OPTIMISM_TOLERANCE:
        fail(
            "Your model card's `metric.validation` is more than "
            f"{OPTIMISM_TOLERANCE:.2f} above the ROC AUC measured on customers the model has "
            f"never seen ({rounded(measured):.2f}). Evidence that optimistic is the mark of "
            "leakage: a feature known only after the outcome, an id that tracks the label, or "
            "validation rows used in training.",
            "leakage",
        )
