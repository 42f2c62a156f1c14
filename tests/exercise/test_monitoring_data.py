"""The monitoring exercise's data: reproducible byte for byte, traps and streams as promised."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from servelab.settings import PROJECT_ROOT

SLUG = "monitoring-model-services"
GRADER = PROJECT_ROOT / "graders" / SLUG
GENERATOR = GRADER / "generate_data.py"
TRAIN = PROJECT_ROOT / "exercises" / SLUG / "data" / "train.csv"
HIDDEN = GRADER / "data"
HIDDEN_FILES = ("holdout.csv", "stream_shifted.csv", "stream_unshifted.csv")


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _psi(reference: pd.Series, values: pd.Series, name: str) -> float:
    """The grader's own PSI (the suite's helper, so the test and the suite cannot disagree)."""
    support = _load("monitoring_support_for_test", GRADER / "monitoring_support.py")
    return float(support.psi(reference, values, name))


def test_generator_reproduces_every_committed_file_byte_for_byte(tmp_path: Path) -> None:
    _load("monitoring_generate_data", GENERATOR).generate(tmp_path / "train.csv", tmp_path / "h")
    assert (tmp_path / "train.csv").read_bytes() == TRAIN.read_bytes()
    for name in HIDDEN_FILES:
        assert (tmp_path / "h" / name).read_bytes() == (HIDDEN / name).read_bytes(), name
    assert sorted(p.name for p in HIDDEN.iterdir()) == sorted(HIDDEN_FILES)


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generator = _load("monitoring_generate_data", GENERATOR)
    generator.generate(tmp_path / "train.csv", tmp_path / "h", seed=1)
    assert (tmp_path / "train.csv").read_bytes() != TRAIN.read_bytes()
    assert (tmp_path / "h" / "holdout.csv").read_bytes() != (HIDDEN / "holdout.csv").read_bytes()


@pytest.mark.parametrize(
    ("path", "rows", "first", "last"),
    [
        (TRAIN, 6000, "2025-01-01", "2025-12-31"),
        (HIDDEN / "holdout.csv", 4000, "2026-01-01", "2026-03-31"),
    ],
    ids=["train", "holdout"],
)
def test_files_have_the_promised_shape(path: Path, rows: int, first: str, last: str) -> None:
    data = pd.read_csv(path)
    assert list(data.columns) == [
        "payment_id",
        "payment_date",
        "amount",
        "hour",
        "account_age_days",
        "distance_km",
        "merchant_category",
        "channel",
        "chargeback_filed",
        "fraud",
    ]
    assert len(data) == rows and not data.isna().any().any()
    assert data["payment_id"].is_unique and (data["payment_id"] >= 1).all()
    assert data["payment_date"].min() >= first and data["payment_date"].max() <= last
    assert (data["amount"] > 0).all() and (data["amount"] <= 100_000).all()
    assert data["hour"].between(0, 23).all()
    assert (data["account_age_days"] >= 0).all() and (data["distance_km"] >= 0).all()
    assert set(data["merchant_category"]) == {"grocery", "fuel", "electronics", "travel", "gaming"}
    assert set(data["channel"]) == {"pos", "web", "mobile"}
    assert 0.04 <= (data["merchant_category"] == "gaming").mean() <= 0.08
    assert 0.06 <= data["fraud"].mean() <= 0.14


def test_traps_are_real() -> None:
    """payment_id tracks fraud in train only; chargebacks predict fraud in every file."""
    train, holdout = pd.read_csv(TRAIN), pd.read_csv(HIDDEN / "holdout.csv")
    assert train["payment_id"].corr(train["fraud"]) > 0.4
    assert abs(holdout["payment_id"].corr(holdout["fraud"])) < 0.1
    for data in (train, holdout):
        assert data["chargeback_filed"].corr(data["fraud"]) > 0.5
    assert not set(holdout["payment_id"]) & set(train["payment_id"])


def test_streams_shift_only_the_named_features() -> None:
    """The unshifted stream stays far under the contract's threshold (0.2) on every feature;
    the shifted one is far over it on exactly the generator's SHIFTED_FEATURES."""
    generator = _load("monitoring_generate_data", GENERATOR)
    train = pd.read_csv(TRAIN)
    features = ("amount", "hour", "account_age_days", "distance_km", "merchant_category", "channel")
    for name in ("stream_unshifted.csv", "stream_shifted.csv"):
        stream = pd.read_csv(HIDDEN / name)
        assert list(stream.columns) == generator.REQUEST_FIELDS and len(stream) == 1000
        assert not set(stream["payment_id"]) & set(train["payment_id"])
    unshifted = pd.read_csv(HIDDEN / "stream_unshifted.csv")
    shifted = pd.read_csv(HIDDEN / "stream_shifted.csv")
    calm = {f: _psi(train[f], unshifted[f], f) for f in features}
    moved = {f: _psi(train[f], shifted[f], f) for f in features}
    print("PSI unshifted", {k: round(v, 3) for k, v in calm.items()})
    print("PSI shifted", {k: round(v, 3) for k, v in moved.items()})
    assert max(calm.values()) < 0.1
    assert {f for f, v in moved.items() if v > 0.4} == set(generator.SHIFTED_FEATURES)
    assert max(v for f, v in moved.items() if f not in generator.SHIFTED_FEATURES) < 0.1
    assert np.isfinite(list(moved.values())).all()
