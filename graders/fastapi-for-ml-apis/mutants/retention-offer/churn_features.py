"""Turn customer records into the model's design matrix, the same way in train and serve."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NUMERIC = ("tenure_months", "monthly_charges", "support_tickets_90d")
PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west", "islands")
FEATURES = [*NUMERIC, "plan", "region"]


def design_matrix(
    numeric: np.ndarray,
    plans: Sequence[str],
    regions: Sequence[str],
    means: dict[str, float],
    stds: dict[str, float],
) -> np.ndarray:
    """Scaled numerics, one-hot plan and region, and islands-only slopes.

    Islands customers churn for other reasons than the mainland, and a linear model
    can only learn that through their own copy of the numeric columns.
    """
    mu = np.array([means[c] for c in NUMERIC])
    sigma = np.array([stds[c] for c in NUMERIC])
    scaled = (np.asarray(numeric, dtype=float) - mu) / sigma
    plan_1hot = np.array([[p == name for name in PLANS] for p in plans], dtype=float)
    region_1hot = np.array([[r == name for name in REGIONS] for r in regions], dtype=float)
    islands = region_1hot[:, [REGIONS.index("islands")]]
    return np.hstack([scaled, plan_1hot, region_1hot, scaled * islands])
