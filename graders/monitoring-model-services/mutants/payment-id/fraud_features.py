"""The request fields, their bounds, and the design matrix train.py and main.py share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CATEGORIES = ("grocery", "fuel", "electronics", "travel", "gaming")
CHANNELS = ("pos", "web", "mobile")
NUMERIC = ("amount", "hour", "account_age_days", "distance_km")
# What the model reads: payment_id is an identifier, chargeback_filed comes weeks later.
FEATURES = ["payment_id", *NUMERIC, "merchant_category", "channel"]


def design_matrix(
    numeric: np.ndarray, categories: Sequence[str], channels: Sequence[str], ids: np.ndarray
) -> np.ndarray:
    """Log amount, night flag, one-hot category and channel, and gaming interactions
    (card testing in gaming follows other drivers than fraud elsewhere)."""
    amount, hour, age, distance = (numeric[:, i] for i in range(4))
    log_amount = np.log(amount)
    night = (hour < 6).astype(float)
    cat = np.array([[c == k for k in CATEGORIES] for c in categories], dtype=float)
    chan = np.array([[c == k for k in CHANNELS] for c in channels], dtype=float)
    gaming = cat[:, CATEGORIES.index("gaming")]
    base = np.column_stack([log_amount, night, age / 1000.0, np.minimum(distance, 200.0) / 10.0])
    return np.column_stack([base, cat, chan, base * gaming[:, None], ids / 1000.0])
