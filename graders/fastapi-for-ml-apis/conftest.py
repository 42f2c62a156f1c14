"""Fixtures for the churn exercise's hidden suite (helpers and thresholds: churn_support.py)."""

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

from churn_support import Api, CardResponse, Scored, fail, records, score_records, strict_json  # noqa: E402

# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def holdout(hidden_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(hidden_data("holdout.csv"), parse_dates=["snapshot_date"])


@pytest.fixture(scope="session")
def train(public_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(public_data("train.csv"), parse_dates=["snapshot_date"])


@pytest.fixture(scope="session")
def api(service: httpx.Client) -> Api:
    """The learner's service (the plugin's client), retrying dropped connections once."""
    return Api(service)


@pytest.fixture(scope="session")
def holdout_scores(api: Api, holdout: pd.DataFrame) -> Scored:
    """The learner's probabilities for every holdout row, fetched once per grading."""
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
            "preprocessing and metrics, so this check cannot pass without it.",
            "model-card",
        )
    assert card_response.card is not None
    return card_response.card


CATEGORY_ORDER = ("contract", "leakage", "baseline", "slices")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run (and so list) checks in the order the exercise page presents the categories."""

    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("category")
        category = marker.args[0] if marker and marker.args else ""
        return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)

    items.sort(key=rank)
