"""Interval checks: bounds in order, 90 % coverage on held-out rows, no wider than needed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from interval_support import (
    LEVEL,
    LINEAR_FEATURES,
    OVERALL_BAND,
    TARGET,
    WIDTH_RATIO,
    Scored,
    coverage_interval,
    meets_band,
    rounded,
)
from sklearn.linear_model import LinearRegression

from servelab.grading.plugin import fail, feedback, record_table

pytestmark = pytest.mark.category("intervals")


@pytest.mark.points(7)
def test_bounds_are_ordered(holdout_scores: Scored) -> None:
    """lower <= prediction <= upper for every held-out delivery"""
    got = holdout_scores.require()
    crossed = int(np.sum(got.lower > got.upper))
    outside = int(np.sum((got.prediction < got.lower) | (got.prediction > got.upper)))
    if crossed or outside:
        fail(
            f"Of {got.prediction.size} answers, {crossed} have lower above upper and "
            f"{outside} have the prediction outside [lower, upper]. An interval is a range "
            "around the prediction: clip the point into it (or build both bounds from the "
            "point), and never let separately fitted bounds cross.",
            section="bounds-in-order",
        )


@pytest.mark.points(10)
def test_overall_coverage_near_the_level(holdout: pd.DataFrame, holdout_scores: Scored) -> None:
    """About 90 % of held-out deliveries fall inside their interval, allowing for sampling error"""
    covered = holdout_scores.require().covers(holdout[TARGET].to_numpy())
    point, low, high = coverage_interval(covered)
    record_table(
        "Held-out coverage",
        [
            {
                "slice": "all",
                "deliveries": int(covered.size),
                "coverage": rounded(point),
                "interval_low": rounded(low),
                "interval_high": rounded(high),
                "floor": OVERALL_BAND[0],
            }
        ],
    )
    if not meets_band(low, high, OVERALL_BAND):
        side = "too few" if high < OVERALL_BAND[0] else "too many"
        fail(
            f"Your intervals hold {point:.0%} of held-out delivery times ({side}): even with a "
            f"95 % allowance for sampling error the coverage is outside {OVERALL_BAND[0]:.2f} "
            f"to {OVERALL_BAND[1]:.2f}. A 90 % interval should miss about one delivery in "
            "ten: calibrate the bounds on residuals of rows the model did not train on, from "
            "couriers it did not see.",
            section="coverage",
        )


@pytest.mark.points(8)
def test_intervals_no_wider_than_needed(train: pd.DataFrame, holdout_scores: Scored) -> None:
    """Mean interval width is no wider than a linear model's with one global width"""
    linear = LinearRegression().fit(train[LINEAR_FEATURES], train[TARGET])
    residual = np.abs(train[TARGET].to_numpy() - linear.predict(train[LINEAR_FEATURES]))
    baseline_width = 2.0 * float(np.quantile(residual, LEVEL))  # public data only
    width = float(np.mean(holdout_scores.require().width))
    feedback(
        f"Mean interval width on held-out deliveries: {rounded(width):.2f} minutes; the "
        f"reference interval (a linear model on {', '.join(LINEAR_FEATURES)} fit on "
        f"train.csv, plus or minus the 90th percentile of its absolute residuals there) is "
        f"{rounded(baseline_width):.2f} minutes wide.",
        section="interval-width",
    )
    if width > WIDTH_RATIO * baseline_width:
        fail(
            "Your intervals are wider on average than that reference. Coverage alone is easy "
            "(from 0 to 200 minutes covers everything); an interval is useful when it is as "
            "narrow as the data allow: a better point model and a width that follows the "
            "noise of each kind of delivery.",
            section="interval-width",
        )
