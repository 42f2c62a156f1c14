"""Leakage, baseline and slice checks on the hidden holdout (Q1 2026)."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from monitoring_support import (
    BASELINE_MARGIN,
    OPTIMISM_MAX,
    SLICE_FLOOR,
    SLICE_GAP_MAX,
    Scored,
    fail,
    json_or_none,
    probability,
    roc_auc,
    send,
)
from sklearn.linear_model import LogisticRegression

from servelab.grading.plugin import record_table


def _scores(holdout_scores: Scored) -> np.ndarray:
    if holdout_scores.probabilities is None:
        fail(
            f"{holdout_scores.problem}, so the held-out payments could not be scored.",
            "data-contract",
        )
    return np.asarray(holdout_scores.probabilities)


@pytest.mark.category("leakage")
@pytest.mark.points(4)
def test_features_exclude_id_and_chargeback(card: dict[str, Any]) -> None:
    """The model card's features leave out payment_id and chargeback_filed"""
    features = card.get("features")
    if not isinstance(features, list):
        fail("The model card's 'features' must be a list of names.", "model-card")
    assert isinstance(features, list)
    leaky = [f for f in ("payment_id", "chargeback_filed") if f in features]
    if leaky:
        fail(
            f"The model uses {', '.join(leaky)}: an identifier carries no signal in new data, "
            "and a chargeback is filed weeks after the payment, so neither is known at "
            "prediction time.",
            "leakage",
        )


@pytest.mark.category("leakage")
@pytest.mark.points(4)
def test_predictions_ignore_payment_id(
    service: httpx.Client, examples: list[dict[str, Any]]
) -> None:
    """Predictions do not change when payment ids change"""
    changed = 0
    for i, body in enumerate(examples[100:130]):
        a = send(service, "POST", "/predict", json=body)
        b = send(service, "POST", "/predict", json={**body, "payment_id": 999_000 + i})
        pa = probability(json_or_none(a)) if a is not None and a.status_code == 200 else None
        pb = probability(json_or_none(b)) if b is not None and b.status_code == 200 else None
        changed += pa is None or pb is None or abs(pa - pb) > 1e-9
    if changed:
        fail(
            f"{changed} of 30 predictions changed when only payment_id changed: ids in "
            "train.csv rise with fraud because of how the extract was made.",
            "leakage",
        )


@pytest.mark.category("leakage")
@pytest.mark.points(4)
def test_training_rows_match_the_split(card: dict[str, Any], train: pd.DataFrame) -> None:
    """training.rows counts the rows before a temporal validation_start"""
    split = card.get("split") if isinstance(card.get("split"), dict) else {}
    start = split.get("validation_start") if isinstance(split, dict) else None
    try:
        day = pd.Timestamp(str(start))
    except ValueError:
        day = None
    if split.get("strategy") != "temporal" or day is None or pd.isna(day):
        fail("The card's split must be temporal with a validation_start date.", "temporal-split")
    assert day is not None
    if not pd.Timestamp("2025-07-01") <= day <= pd.Timestamp("2025-12-01"):
        fail("validation_start must lie between 2025-07-01 and 2025-12-01.", "temporal-split")
    expected = int((train["payment_date"] < day).sum())
    rows = (
        (card.get("training") or {}).get("rows") if isinstance(card.get("training"), dict) else None
    )
    if rows != expected:
        fail(
            f"train.csv has {expected} rows before {day.date()}; training.rows must count "
            "them (the served model is fit on them only).",
            "temporal-split",
        )


@pytest.mark.category("leakage")
@pytest.mark.points(4)
def test_validation_auc_is_not_optimistic(
    card: dict[str, Any], holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """The claimed validation ROC AUC is at most 0.07 above the holdout's"""
    metric = card.get("metric") if isinstance(card.get("metric"), dict) else {}
    claimed = metric.get("validation") if isinstance(metric, dict) else None
    if isinstance(claimed, bool) or not isinstance(claimed, int | float):
        fail("The card's metric.validation must be a number.", "model-card")
    measured = roc_auc(holdout["fraud"], _scores(holdout_scores))
    if claimed - measured > OPTIMISM_MAX:
        fail(
            f"Your card claims a validation ROC AUC {claimed - measured:.2f} above what the "
            "grader measured on new payments: a sign of leakage into validation.",
            "leakage",
        )


@pytest.mark.category("baseline")
@pytest.mark.points(2)
def test_model_card_reports_a_baseline(card: dict[str, Any]) -> None:
    """The model card names a baseline and its validation ROC AUC"""
    base = card.get("baseline")
    ok = isinstance(base, dict) and isinstance(base.get("name"), str)
    ok = ok and isinstance(base.get("validation"), int | float)
    if not ok:
        fail("The card's baseline needs a name and a validation number.", "baseline")


@pytest.mark.category("baseline")
@pytest.mark.points(10)
def test_beats_the_graders_baseline_on_holdout(
    train: pd.DataFrame, holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """On held-out payments, ROC AUC beats a distance-only logistic regression by 0.02"""
    baseline = LogisticRegression().fit(train[["distance_km"]], train["fraud"])
    base_auc = roc_auc(holdout["fraud"], baseline.predict_proba(holdout[["distance_km"]])[:, 1])
    auc = roc_auc(holdout["fraud"], _scores(holdout_scores))
    if auc < base_auc + BASELINE_MARGIN:
        fail(
            f"Your ROC AUC on new payments is {auc:.2f}; a logistic regression on distance_km "
            f"alone, fit on train.csv, needs beating by {BASELINE_MARGIN}.",
            "baseline",
        )


def _slice_aucs(holdout: pd.DataFrame, scores: np.ndarray, column: str) -> dict[str, float]:
    out = {}
    for level, rows in holdout.groupby(column):
        out[str(level)] = roc_auc(rows["fraud"], scores[rows.index.to_numpy()])
    return out


def _check_slices(column: str, holdout: pd.DataFrame, holdout_scores: Scored) -> dict[str, float]:
    aucs = _slice_aucs(holdout, _scores(holdout_scores), column)
    record_table(
        f"ROC AUC by {column}",
        [{"slice": k, "roc_auc": v, "floor": SLICE_FLOOR} for k, v in aucs.items()],
    )
    low = [f"{k} ({v:.2f})" for k, v in aucs.items() if not v >= SLICE_FLOOR]
    if low:
        fail(
            f"ROC AUC by {column} is below {SLICE_FLOOR} for: {', '.join(low)}. A good "
            "average can hide a slice the model ranks no better than chance.",
            "slices",
        )
    return aucs


@pytest.mark.category("slices")
@pytest.mark.points(6)
def test_every_category_above_the_floor(holdout: pd.DataFrame, holdout_scores: Scored) -> None:
    """ROC AUC per merchant_category reaches 0.60"""
    _check_slices("merchant_category", holdout, holdout_scores)


@pytest.mark.category("slices")
@pytest.mark.points(6)
def test_every_channel_above_the_floor(holdout: pd.DataFrame, holdout_scores: Scored) -> None:
    """ROC AUC per channel reaches 0.60"""
    _check_slices("channel", holdout, holdout_scores)


@pytest.mark.category("slices")
@pytest.mark.points(6)
def test_gap_between_slices_under_the_ceiling(
    holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """Best and worst merchant category lie within 0.25 ROC AUC"""
    aucs = _slice_aucs(holdout, _scores(holdout_scores), "merchant_category")
    gap = max(aucs.values()) - min(aucs.values())
    if not gap <= SLICE_GAP_MAX:
        fail(
            f"Best and worst merchant categories are {gap:.2f} ROC AUC apart (at most "
            f"{SLICE_GAP_MAX}): look at the small gaming slice, whose fraud has other drivers.",
            "slices",
        )
