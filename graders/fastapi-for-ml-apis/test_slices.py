"""Slice checks: the model works for every region and plan, including the rare islands."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from churn_support import (
    SLICE_FLOOR,
    SLICE_GAP_CEILING,
    Api,
    Scored,
    auc,
    bootstrap_interval,
    fail,
    prediction_problem,
    public_sample,
    rounded,
    strict_json,
)

from servelab.grading.plugin import feedback, record_table

pytestmark = pytest.mark.category("slices")


def _slice_rows(column: str, holdout: pd.DataFrame, scores: np.ndarray) -> list[dict]:
    rows = []
    for value, group in holdout.groupby(column, sort=True):
        labels = group["churned"].to_numpy()
        slice_scores = scores[group.index.to_numpy()]
        point = auc(labels, slice_scores)
        low, high = bootstrap_interval(labels, slice_scores)
        rows.append(
            {
                column: str(value),
                "customers": int(labels.size),
                "roc_auc": rounded(point),
                "interval_low": rounded(low),
                "interval_high": rounded(high),
                "floor": SLICE_FLOOR,
                "ok": bool(high >= SLICE_FLOOR),
            }
        )
    return rows


def _check_slices(column: str, holdout: pd.DataFrame, holdout_scores: Scored) -> None:
    rows = _slice_rows(column, holdout, holdout_scores.require())
    record_table(f"Held-out ROC AUC per {column}", rows)
    below = [str(row[column]) for row in rows if not row["ok"]]
    if below:
        fail(
            f"For {column} {', '.join(below)}, even the optimistic end of a 95 % bootstrap "
            f"interval of ROC AUC is below {SLICE_FLOOR:.2f}. An average can hide a group the "
            "model serves badly. Score each slice on your own validation rows: a small group "
            "that behaves differently must be kept in training, and the model must be able to "
            "express the difference (interaction features, a model per group, or trees that "
            "can split on it).",
            "slices",
        )
    feedback(
        f"ROC AUC per {column} on held-out customers, with 95 % bootstrap intervals; small "
        "slices have wide intervals, so they are judged on the interval's upper end.",
        section="slices",
    )


@pytest.mark.points(7)
def test_every_region_above_the_floor(holdout: pd.DataFrame, holdout_scores: Scored) -> None:
    """ROC AUC per region is above the floor, allowing for sampling error"""
    _check_slices("region", holdout, holdout_scores)


@pytest.mark.points(5)
def test_every_plan_above_the_floor(holdout: pd.DataFrame, holdout_scores: Scored) -> None:
    """ROC AUC per plan is above the floor, allowing for sampling error"""
    _check_slices("plan", holdout, holdout_scores)


@pytest.mark.points(4)
def test_gap_between_slices_under_the_ceiling(
    holdout: pd.DataFrame, holdout_scores: Scored
) -> None:
    """The gap between the best and worst slice is under the ceiling"""
    scores = holdout_scores.require()
    values = {}
    for column in ("region", "plan"):
        for value, group in holdout.groupby(column, sort=True):
            values[f"{column}={value}"] = auc(
                group["churned"].to_numpy(), scores[group.index.to_numpy()]
            )
    finite = {k: v for k, v in values.items() if not math.isnan(v)}
    best = max(finite, key=finite.__getitem__)
    worst = min(finite, key=finite.__getitem__)
    gap = finite[best] - finite[worst]
    if gap > SLICE_GAP_CEILING:
        fail(
            f"ROC AUC differs by {rounded(gap):.2f} between the best slice ({best}) and the worst "
            f"({worst}), over the ceiling of {SLICE_GAP_CEILING:.2f}. Customers in {worst} get "
            "a much worse model than everyone else.",
            "slices",
        )


ISLANDS_REQUESTS = 10


@pytest.mark.points(4)
def test_islands_customers_get_valid_predictions(api: Api, train: pd.DataFrame) -> None:
    """Islands customers, the rare region, get valid predictions"""
    islands = public_sample(train[train["region"] == "islands"], ISLANDS_REQUESTS)
    wrong = 0
    for body in islands:
        response = api.post("/predict", json=body)
        try:
            ok = response.status_code == 200 and not prediction_problem(strict_json(response.text))
        except ValueError:
            ok = False
        wrong += not ok
    if wrong:
        fail(
            f"{wrong} of {len(islands)} requests for islands customers did not get a valid "
            "prediction. A rare category is still a valid category: it must be accepted and "
            "answered like any other.",
            "slices",
        )
