"""The churn data: reproducible byte for byte, and shaped as the exercise promises.

The hidden holdout has two parts (feedback and final) of the same shape, with disjoint ids.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from servelab.settings import PROJECT_ROOT

GENERATOR = PROJECT_ROOT / "graders" / "fastapi-for-ml-apis" / "generate_data.py"
TRAIN = PROJECT_ROOT / "exercises" / "fastapi-for-ml-apis" / "data" / "train.csv"
HIDDEN = PROJECT_ROOT / "graders" / "fastapi-for-ml-apis" / "data"
PARTS = ("final", "feedback")
HOLDOUTS = {part: HIDDEN / part / "holdout.csv" for part in PARTS}
ROWS_BEFORE_THE_SPLIT = 4000  # the whole holdout before it had parts; each part is as large


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("churn_generate_data", GENERATOR)
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
    [(TRAIN, 5000, "2025-01-01", "2025-12-31")]
    + [(path, ROWS_BEFORE_THE_SPLIT, "2026-01-01", "2026-03-31") for path in HOLDOUTS.values()],
    ids=["train", *PARTS],
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


@pytest.mark.parametrize("part", PARTS)
def test_each_parts_rare_slice_is_large_enough_to_judge(part: str) -> None:
    holdout = pd.read_csv(HOLDOUTS[part])
    assert (holdout["region"] == "islands").sum() > 100


def test_parts_cannot_be_told_apart_by_id_and_share_no_customer() -> None:
    """Both parts draw ids from one range: a service cannot tell which part it is scoring."""
    final, feedback = (pd.read_csv(HOLDOUTS[part])["customer_id"] for part in PARTS)
    train = pd.read_csv(TRAIN)["customer_id"]
    assert not set(final) & set(feedback)
    assert not (set(final) | set(feedback)) & set(train)
    for ids in (final, feedback):
        assert ids.min() > 10_000 and ids.max() <= 90_000


@pytest.mark.parametrize("part", PARTS)
def test_traps_are_real(part: str) -> None:
    """customer_id tracks churn in train only; the offer is predictive in every file."""
    train, holdout = pd.read_csv(TRAIN), pd.read_csv(HOLDOUTS[part])
    assert train["customer_id"].corr(train["churned"]) > 0.5
    assert abs(holdout["customer_id"].corr(holdout["churned"])) < 0.1
    for data in (train, holdout):
        assert data["retention_offer_sent"].corr(data["churned"]) > 0.5
    # Prices rise through the year: whole-file means differ from early-rows means.
    early = train[train["snapshot_date"] < "2025-09-01"]
    assert train["monthly_charges"].mean() - early["monthly_charges"].mean() > 1.0
