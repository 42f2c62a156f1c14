"""Fixtures for the delivery-time interval suite (helpers and thresholds: interval_support.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

# The suite's own helpers sit next to it; make them importable whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from interval_support import Api, CardResponse, Scored, records, score_records, strict_json  # noqa: E402

from servelab.grading.plugin import fail  # noqa: E402

# Only the model-quality checks read hidden data (the `holdout` fixture and what is built on
# it); every contract check sends public examples from train.csv.


def _holdout_path(hidden_data: Callable[[str], Path]) -> Path:
    """data/holdout.csv, which the plugin resolves to the part being graded; by hand, the final
    part."""
    try:
        return hidden_data("holdout.csv")
    except FileNotFoundError:
        return hidden_data("final/holdout.csv")


@pytest.fixture(scope="session")
def holdout(hidden_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(_holdout_path(hidden_data))


@pytest.fixture(scope="session")
def train(public_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(public_data("train.csv"))


@pytest.fixture(scope="session")
def api(service: httpx.Client) -> Api:
    return Api(service)


@pytest.fixture(scope="session")
def holdout_scores(api: Api, card_response: CardResponse, holdout: pd.DataFrame) -> Scored:
    """The learner's answers for every holdout row, fetched once per part (the model card is
    read first, before the service has seen any hidden row)."""
    return score_records(api, records(holdout))


@pytest.fixture(scope="session")
def card_response(api: Api) -> CardResponse:
    try:
        response = api.get("/model-card")
        body = strict_json(response.text)
    except httpx.HTTPError as exc:
        return CardResponse(None, f"GET /model-card failed ({type(exc).__name__})")
    except ValueError:
        return CardResponse(None, "GET /model-card did not return valid JSON")
    if response.status_code != 200:
        return CardResponse(None, f"GET /model-card answered HTTP {response.status_code}")
    if not isinstance(body, dict):
        return CardResponse(None, "GET /model-card did not return a JSON object")
    return CardResponse(body)


@pytest.fixture
def card(card_response: CardResponse) -> dict[str, Any]:
    """The model card, or a failed check that says why it could not be read."""
    if card_response.card is None:
        fail(
            f"{card_response.problem}. The model card is how the grader checks your split, "
            "features and validation numbers, so this check cannot pass without it.",
            section="model-card",
        )
    assert card_response.card is not None
    return card_response.card


CATEGORY_ORDER = ("contract", "leakage", "baseline", "intervals", "slices")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run (and so list) checks in the order the exercise page presents the categories."""

    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("category")
        category = marker.args[0] if marker and marker.args else ""
        return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)

    items.sort(key=rank)
