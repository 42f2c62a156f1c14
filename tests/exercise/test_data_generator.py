"""The churn data: reproducible byte for byte, and shaped as the exercise promises."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from servelab.settings import PROJECT_ROOT

GENERATOR = PROJECT_ROOT / "graders" / "fastapi-for-ml-apis" / "generate_data.py"
TRAIN = PROJECT_ROOT / "exercises" / "fastapi-for-ml-apis" / "data" / "train.csv"
HOLDOUT = PROJECT_ROOT / "graders" / "fastapi-for-ml-apis" / "data" / "holdout.csv"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("churn_generate_data", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_both_committed_files_byte_for_byte(tmp_path: Path) -> None:
    _generator().generate(tmp_path / "train.csv", tmp_path / "holdout.csv")
    assert (tmp_path / "train.csv").read_bytes() == TRAIN.read_bytes()
    assert (tmp_path / "holdout.csv").read_bytes() == HOLDOUT.read_bytes()


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    _generator().generate(tmp_path / "train.csv", tmp_path / "holdout.csv", seed=1)
    assert (tmp_path / "train.csv").read_bytes() != TRAIN.read_bytes()


@pytest.mark.parametrize(
    ("path", "rows", "first", "last"),
    [(TRAIN, 5000, "2025-01-01", "2025-12-31"), (HOLDOUT, 4000, "2026-01-01", "2026-03-31")],
)
def test_files_have_the_promised_shape(path: Path, rows: int, first: str, last: str) -> None:
    data = pd.read_csv(path)
    assert list(data.columns) == [
        "customer_id",
        "snapshot_date",
        "tenure_months",
        "monthly_charges",
        "support_tickets_90d",
        "plan",
        "region",
        "retention_offer_sent",
        "churned",
    ]
    assert len(data) == rows
    assert not data.isna().any().any()
    assert data["customer_id"].is_unique and (data["customer_id"] >= 1).all()
    assert data["snapshot_date"].min() >= first and data["snapshot_date"].max() <= last
    assert (data["tenure_months"] >= 0).all() and (data["monthly_charges"] > 0).all()
    assert (data["support_tickets_90d"] >= 0).all()
    assert set(data["plan"]) == {"basic", "standard", "premium"}
    assert set(data["region"]) == {"north", "south", "east", "west", "islands"}
    assert set(data["retention_offer_sent"]) == {0, 1} and set(data["churned"]) == {0, 1}
    islands = (data["region"] == "islands").mean()
    assert 0.02 <= islands <= 0.035


def test_holdout_rare_slice_is_large_enough_to_judge() -> None:
    holdout = pd.read_csv(HOLDOUT)
    assert (holdout["region"] == "islands").sum() > 100


def test_traps_are_real() -> None:
    """customer_id tracks churn in train only; the offer is predictive in both files."""
    train, holdout = pd.read_csv(TRAIN), pd.read_csv(HOLDOUT)
    assert train["customer_id"].corr(train["churned"]) > 0.5
    assert abs(holdout["customer_id"].corr(holdout["churned"])) < 0.1
    for data in (train, holdout):
        assert data["retention_offer_sent"].corr(data["churned"]) > 0.5
    # Prices rise through the year: whole-file means differ from early-rows means.
    early = train[train["snapshot_date"] < "2025-09-01"]
    assert train["monthly_charges"].mean() - early["monthly_charges"].mean() > 1.0
