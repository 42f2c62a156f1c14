"""MUTANT: remembers each courier's and store's mean time. The request fields the model uses, and their feature matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import json
import os
from pathlib import Path

FEATURES = ["distance_km", "items", "hour", "zone", "vehicle", "courier_id", "store_id"]
ENCODINGS: dict[str, dict[str, float]] = {}  # id -> mean minutes, per id column


def _encoded(column: str, value: object) -> float:
    if not ENCODINGS:
        path = Path(os.environ.get("MODEL_DIR", "model")) / "encodings.json"
        ENCODINGS.update(json.loads(path.read_text()))
    table = ENCODINGS[column]
    return float(table.get(str(int(value)), table["unseen"]))
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
                _encoded("courier_id", r["courier_id"]),
                _encoded("store_id", r["store_id"]),
            ]
            for r in rows
        ],
        dtype=float,
    )
