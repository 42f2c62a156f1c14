"""MUTANT: customer_rating (given after the delivery) as a feature. The request fields the model uses, and their feature matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FEATURES = ["distance_km", "items", "hour", "zone", "vehicle", "customer_rating"]
TYPICAL_RATING = 4.0  # not in requests: the service assumes a typical rating
ZONES = ("centre", "suburb", "outskirts")
VEHICLES = ("bike", "scooter", "car")
CATEGORICAL = [3, 4]  # zone and vehicle, as category codes for the gradient boosting model


def matrix(rows: Sequence[dict[str, Any]]) -> np.ndarray:
    """Numbers in FEATURES order; zone and vehicle as their index in ZONES and VEHICLES."""
    return np.array(
        [
            [
                float(r["distance_km"]),
                float(r["items"]),
                float(r["hour"]),
                float(ZONES.index(r["zone"])),
                float(VEHICLES.index(r["vehicle"])),
                float(r.get("customer_rating", TYPICAL_RATING)),
            ]
            for r in rows
        ],
        dtype=float,
    )
