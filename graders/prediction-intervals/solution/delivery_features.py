"""The request fields the model uses and their feature matrix (shared by train and serve)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FEATURES = ["distance_km", "items", "hour", "zone", "vehicle"]
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
            ]
            for r in rows
        ],
        dtype=float,
    )
