"""The delivery-time data of prediction-intervals: reproducible byte for byte, traps real.

The hidden holdout has two parts (feedback and final) of the same shape, with disjoint
order, courier and store ids, and no courier or store of train.csv.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from servelab.settings import PROJECT_ROOT

SLUG = "prediction-intervals"
GENERATOR = PROJECT_ROOT / "graders" / SLUG / "generate_data.py"
TRAIN = PROJECT_ROOT / "exercises" / SLUG / "data" / "train.csv"
HIDDEN = PROJECT_ROOT / "graders" / SLUG / "data"
PARTS = ("final", "feedback")
HOLDOUTS = {part: HIDDEN / part / "holdout.csv" for part in PARTS}
COLUMNS = [
    "order_id",
    "order_date",
    "courier_id",
    "store_id",
    "distance_km",
    "items",
    "hour",
    "zone",
    "vehicle",
    "customer_rating",
    "delivery_minutes",
]


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("intervals_generate_data", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_every_committed_file_byte_for_byte(tmp_path: Path) -> None:
    _generator().generate(tmp_path / "train.csv", tmp_path / "hidden")
    assert (tmp_path / "train.csv").read_bytes() == TRAIN.read_bytes()
    for part, committed in HOLDOUTS.items():
        assert (tmp_path / "hidden" / part / "holdout.csv").read_bytes() == committed.read_bytes()
    assert sorted(p.name for p in HIDDEN.iterdir()) == sorted(PARTS)  # nothing else is hidden


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    _generator().generate(tmp_path / "train.csv", tmp_path / "hidden", seed=1)
    assert (tmp_path / "train.csv").read_bytes() != TRAIN.read_bytes()
    for part, committed in HOLDOUTS.items():
        assert (tmp_path / "hidden" / part / "holdout.csv").read_bytes() != committed.read_bytes()


@pytest.mark.parametrize(
    ("path", "rows", "first", "last"),
    [(TRAIN, 6000, "2025-01-01", "2025-12-31")]
    + [(path, 3000, "2026-01-01", "2026-03-31") for path in HOLDOUTS.values()],
    ids=["train", *PARTS],
)
def test_files_have_the_promised_shape(path: Path, rows: int, first: str, last: str) -> None:
    data = pd.read_csv(path)
    assert list(data.columns) == COLUMNS
    assert len(data) == rows
    assert not data.isna().any().any()
    assert data["order_id"].is_unique
    assert data["order_date"].min() >= first and data["order_date"].max() <= last
    assert (data["distance_km"] > 0).all() and (data["delivery_minutes"] > 0).all()
    assert data["items"].between(1, 12).all() and data["hour"].between(9, 23).all()
    assert set(data["zone"]) == {"centre", "suburb", "outskirts"}
    assert set(data["vehicle"]) == {"bike", "scooter", "car"}
    assert set(data["customer_rating"]) <= {1, 2, 3, 4, 5}
    assert 0.12 <= (data["zone"] == "outskirts").mean() <= 0.18


def test_holdout_couriers_and_stores_are_new_and_parts_share_no_id() -> None:
    """The grouped trap: every holdout courier and store is unseen, in both parts."""
    train = pd.read_csv(TRAIN)
    final, feedback = (pd.read_csv(HOLDOUTS[part]) for part in PARTS)
    for column in ("order_id", "courier_id", "store_id"):
        assert not set(final[column]) & set(feedback[column])
        assert not (set(final[column]) | set(feedback[column])) & set(train[column])
    # Couriers and stores repeat: a random split puts each one on both sides.
    assert train.groupby("courier_id").size().median() >= 20
    assert train.groupby("store_id").size().median() >= 50


@pytest.mark.parametrize("part", PARTS)
def test_traps_are_real(part: str) -> None:
    """The rating follows the outcome; the noise grows from centre to outskirts."""
    for data in (pd.read_csv(TRAIN), pd.read_csv(HOLDOUTS[part])):
        assert data["customer_rating"].corr(data["delivery_minutes"]) < -0.25
        spread = data.groupby("zone")["delivery_minutes"].std()
        assert spread["centre"] * 2 < spread["outskirts"]
        assert (data["zone"] == "outskirts").sum() > 300


def test_courier_identity_carries_signal_in_train() -> None:
    """Couriers differ in pace: remembering them flatters a random split (the grouped trap).

    On centre deliveries (the least noisy), the spread of couriers' mean residuals is well
    above what ~20 deliveries' noise alone would give (about 1 minute)."""
    train = pd.read_csv(TRAIN)
    centre = train[train["zone"] == "centre"]
    design = pd.get_dummies(centre[["distance_km", "items", "vehicle"]], dtype=float)
    fitted = LinearRegression().fit(design, centre["delivery_minutes"]).predict(design)
    residual = centre["delivery_minutes"] - fitted
    assert residual.groupby(centre["courier_id"]).mean().std() > 2.0
