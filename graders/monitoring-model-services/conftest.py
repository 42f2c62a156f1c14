"""Fixtures for the monitoring exercise's hidden suite (helpers and thresholds:
monitoring_support.py). Each driven sequence (the metric exchange, the drift phases) runs once,
in one session fixture, so no other check's requests fall between its reads."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from monitoring_support import (  # noqa: E402
    Exposition,
    ExpositionError,
    Scored,
    fail,
    parse_exposition,
    probability,
    records,
    score_records,
    strict_json,
)


@pytest.fixture(scope="session")
def train(public_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(public_data("train.csv"), parse_dates=["payment_date"])


@pytest.fixture(scope="session")
def examples(train: pd.DataFrame) -> list[dict[str, Any]]:
    """Public request bodies (train.csv rows) for the contract checks."""
    return records(train.sample(n=200, random_state=12))


@pytest.fixture(scope="session")
def holdout(hidden_data: Callable[[str], Path]) -> pd.DataFrame:
    return pd.read_csv(hidden_data("holdout.csv"), parse_dates=["payment_date"])


@dataclass
class CardResponse:
    card: dict[str, Any] | None
    problem: str = ""


@pytest.fixture(scope="session")
def card_response(service: httpx.Client) -> CardResponse:
    try:
        response = service.get("/model-card")
        body = strict_json(response.text)
    except httpx.HTTPError as exc:
        return CardResponse(None, f"GET /model-card failed ({type(exc).__name__})")
    except ValueError:
        return CardResponse(None, "GET /model-card did not return valid JSON")
    if response.status_code != 200 or not isinstance(body, dict):
        return CardResponse(None, f"GET /model-card answered HTTP {response.status_code}")
    return CardResponse(body)


@pytest.fixture
def card(card_response: CardResponse) -> dict[str, Any]:
    if card_response.card is None:
        fail(
            f"{card_response.problem}. The model card is how the grader checks your split and "
            "metrics, so this check cannot pass without it.",
            "model-card",
        )
    assert card_response.card is not None
    return card_response.card


@pytest.fixture(scope="session")
def holdout_scores(
    service: httpx.Client, card_response: CardResponse, holdout: pd.DataFrame
) -> Scored:
    """The service's probabilities for every holdout row (the model card is read first,
    before the service has seen any hidden row)."""
    return score_records(service, records(holdout))


# --- the metric exchange ----------------------------------------------------------------------


@dataclass
class Exchange:
    """Two reads of /metrics around requests the grader counted itself."""

    before: Exposition | None = None
    after: Exposition | None = None
    problem: str = ""
    sent: dict[tuple[str, str], int] = field(default_factory=dict)
    scores: list[float] = field(default_factory=list)
    content_type: str = ""
    dropped: int = 0  # requests the service answered with a dropped connection

    def delta(self, name: str, **labels: str) -> float:
        assert self.before is not None and self.after is not None
        return self.after.value(name, **labels) - self.before.value(name, **labels)


def _read_metrics(service: httpx.Client, exchange: Exchange) -> Exposition | None:
    try:
        response = service.get("/metrics")
    except httpx.HTTPError as exc:
        exchange.problem = f"GET /metrics failed ({type(exc).__name__})"
        return None
    if response.status_code != 200:
        exchange.problem = f"GET /metrics answered HTTP {response.status_code}"
        return None
    exchange.content_type = response.headers.get("content-type", "")
    try:
        return parse_exposition(response.text)
    except ExpositionError as exc:
        exchange.problem = (
            f"prometheus_client's parser could not read GET /metrics ({exc}): it is not in "
            "the Prometheus text format"
        )
        return None
    except ImportError:
        exchange.problem = "the grader could not load prometheus_client (a platform problem)"
        return None


@pytest.fixture(scope="session")
def exchange(service: httpx.Client, examples: list[dict[str, Any]]) -> Exchange:
    """Read /metrics, send a counted mix of requests (valid, refused, batch, health), read
    again. The checks compare the differences with what was sent."""
    ex = Exchange()
    ex.before = _read_metrics(service, ex)
    if ex.before is None:
        return ex
    sent: dict[tuple[str, str], int] = {}

    def send(endpoint: str, method: str, body: Any = None) -> httpx.Response | None:
        """One request, counted by the status it was answered with. A request that got no
        answer (the service dropped the connection) is not counted: nothing was answered."""
        try:
            if method == "GET":
                response = service.get(endpoint)
            else:
                response = service.post(endpoint, json=body)
        except httpx.HTTPError:
            ex.dropped += 1
            return None
        key = (endpoint, str(response.status_code))
        sent[key] = sent.get(key, 0) + 1
        return response

    def keep_scores(response: httpx.Response | None, batch: bool) -> None:
        if response is None or response.status_code != 200:
            return
        try:
            body = strict_json(response.text)
        except ValueError:
            return
        items = body.get("predictions", []) if batch and isinstance(body, dict) else [body]
        for item in items if isinstance(items, list) else []:
            p = probability(item)
            if p is not None:
                ex.scores.append(p)

    for body in examples[:7]:
        keep_scores(send("/predict", "POST", body), batch=False)
    refused = [
        {k: v for k, v in examples[0].items() if k != "amount"},
        {**examples[1], "amount": -5.0},
        {**examples[2], "channel": "fax"},
    ]
    for body in refused:  # answered anyway by a service without validation: scores count
        keep_scores(send("/predict", "POST", body), batch=False)
    for start in (10, 20):
        batch = {"instances": examples[start : start + 5]}
        keep_scores(send("/predict/batch", "POST", batch), batch=True)
    keep_scores(send("/predict/batch", "POST", {"instances": []}), batch=True)
    for _ in range(4):
        send("/health", "GET")
    ex.sent = sent
    ex.after = _read_metrics(service, ex)
    return ex


@pytest.fixture
def metrics(exchange: Exchange) -> Exchange:
    if exchange.before is None or exchange.after is None:
        fail(
            f"{exchange.problem}. The monitoring checks read /metrics before and after "
            "requests they count, so they cannot pass until it answers in the text format.",
            "prometheus-text-format",
        )
    return exchange


# --- the drift phases -------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    sent: int
    report: dict[str, Any] | None
    problem: str = ""


def _drive(service: httpx.Client, name: str, rows: list[dict[str, Any]]) -> Phase:
    try:
        reset = service.post("/drift/reset")
        if reset.status_code != 200:
            return Phase(name, 0, None, f"POST /drift/reset answered HTTP {reset.status_code}")
        for start in range(0, len(rows), 250):
            part = rows[start : start + 250]
            r = service.post("/predict/batch", json={"instances": part})
            if r.status_code != 200:
                return Phase(name, start, None, f"POST /predict/batch answered {r.status_code}")
        response = service.get("/drift")
        body = strict_json(response.text)
    except httpx.HTTPError as exc:
        return Phase(name, 0, None, f"a request failed ({type(exc).__name__})")
    except ValueError:
        return Phase(name, len(rows), None, "GET /drift did not answer valid JSON")
    if response.status_code != 200 or not isinstance(body, dict):
        return Phase(name, len(rows), None, f"GET /drift answered HTTP {response.status_code}")
    return Phase(name, len(rows), body)


@pytest.fixture(scope="session")
def drift_phases(service: httpx.Client, hidden_data: Callable[[str], Path]) -> dict[str, Phase]:
    """Three windows, each after a reset: the unshifted stream, the shifted stream, and the
    shifted stream again (a shift that persists is still a shift from the training data)."""
    unshifted = records(pd.read_csv(hidden_data("stream_unshifted.csv")))
    shifted = records(pd.read_csv(hidden_data("stream_shifted.csv")))
    return {
        "unshifted": _drive(service, "unshifted", unshifted),
        "shifted": _drive(service, "shifted", shifted),
        "persisting": _drive(service, "persisting", shifted),
    }


@pytest.fixture(scope="session")
def drift_streams(hidden_data: Callable[[str], Path]) -> dict[str, pd.DataFrame]:
    return {
        "unshifted": pd.read_csv(hidden_data("stream_unshifted.csv")),
        "shifted": pd.read_csv(hidden_data("stream_shifted.csv")),
    }


CATEGORY_ORDER = ("contract", "monitoring", "drift", "leakage", "baseline", "slices")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run (and so list) checks in the order the exercise page presents the categories."""

    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("category")
        category = marker.args[0] if marker and marker.args else ""
        return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else 99

    items.sort(key=rank)
