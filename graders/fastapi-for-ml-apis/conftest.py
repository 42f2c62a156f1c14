"""Fixtures for the churn exercise's hidden suite (helpers and thresholds: churn_support.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

# The suite's own helpers sit next to it; make them importable whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from churn_support import (  # noqa: E402
    Api,
    CardResponse,
    Scored,
    fail,
    records,
    score_records,
    strict_json,
)

from servelab.grading.openapi import Vetting, vet_openapi_text  # noqa: E402

# --- fixtures -------------------------------------------------------------------------------
# Only the model-quality checks read hidden data (the `holdout` fixture and what is built on
# it); every contract check sends public examples from train.csv.


def _holdout_path(hidden_data: Callable[[str], Path]) -> Path:
    """data/holdout.csv, which the plugin resolves to the part being graded when the runner
    grades the split hidden data part by part; otherwise (a suite run by hand) the final part."""
    try:
        return hidden_data("holdout.csv")
    except FileNotFoundError:
        return hidden_data("final/holdout.csv")


@pytest.fixture(scope="session")
def holdout(hidden_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(_holdout_path(hidden_data), parse_dates=["snapshot_date"])


@pytest.fixture(scope="session")
def train(public_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(public_data("train.csv"), parse_dates=["snapshot_date"])


@pytest.fixture(scope="session")
def api(service: httpx.Client) -> Api:
    """The learner's service (the plugin's client), retrying dropped connections once."""
    return Api(service)


@pytest.fixture(scope="session")
def holdout_scores(api: Api, card_response: CardResponse, holdout: pd.DataFrame) -> Scored:
    """The learner's probabilities for every holdout row, fetched once per part.

    The model card is read first (card_response), before the service has seen any hidden row.
    """
    return score_records(api, records(holdout))


@pytest.fixture(scope="session")
def openapi(api: Api) -> Vetting:
    """The service's /openapi.json, vetted: only a document with nothing but local references
    (no addresses, no cycles, bounded size) is handed on, to the checks and to the fuzzer."""
    try:
        response = api.get("/openapi.json")
    except httpx.HTTPError as exc:
        return Vetting(None, (f"GET /openapi.json failed ({type(exc).__name__}).",))
    if response.status_code != 200:
        return Vetting(None, (f"GET /openapi.json answered HTTP {response.status_code}.",))
    return vet_openapi_text(response.content)


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


_REQUESTS_AT_START = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_REQUESTS_AT_START] = Api.sent


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Instructors see how many requests each check cost, the fixtures it first used included
    (the suite's time budget is spent in requests)."""
    outcome = yield
    if call.when == "teardown" and _REQUESTS_AT_START in item.stash:
        sent = Api.sent - item.stash[_REQUESTS_AT_START]
        outcome.get_result().sections.append(("requests", f"requests to the service: {sent}"))


CATEGORY_ORDER = ("contract", "leakage", "baseline", "slices")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run (and so list) checks in the order the exercise page presents the categories."""

    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("category")
        category = marker.args[0] if marker and marker.args else ""
        return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)

    items.sort(key=rank)
