"""Helpers and calibrated thresholds for the churn exercise's hidden suite.

Calibrated thresholds live here, next to the numbers measured in CALIBRATION.md.

Learner-visible text (feedback(), fail(), record_table()) is text the grader wrote plus
values it computed: counts of its own requests, status codes, metric values rounded to two
decimals, and what it sent from public examples. It never quotes what the service answered
(keys, values, headers) nor its log: once the service has seen a hidden row, anything it
emits could carry that row, and feedback must not be the way out.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn

import httpx
import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from servelab.grading.openapi import Vetting
from servelab.grading.plugin import feedback

FIELDS = (
    "customer_id",
    "tenure_months",
    "monthly_charges",
    "support_tickets_90d",
    "plan",
    "region",
)
PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west", "islands")
NUMERIC = ("tenure_months", "monthly_charges", "support_tickets_90d")
SPLIT_EARLIEST = date(2025, 7, 1)
SPLIT_LATEST = date(2025, 12, 1)

# Calibrated in CALIBRATION.md (reference vs mutants).
PROBABILITY_TOLERANCE = 1e-9  # batch vs singles, permuted ids, repeated calls
MEAN_RELATIVE_TOLERANCE = 1e-6  # numeric_means vs the training rows' means
OPTIMISM_TOLERANCE = 0.07  # claimed validation AUC minus holdout AUC
BASELINE_MARGIN = 0.02  # holdout AUC must beat the grader's baseline by this much
SLICE_FLOOR = 0.60  # upper end of a slice's 95 % bootstrap interval must reach this
SLICE_GAP_CEILING = 0.25  # best minus worst slice AUC (point estimates)
LATENCY_P95_SECONDS = 0.30
BOOTSTRAP_SEED = 20260101
BOOTSTRAP_ROUNDS = 400
# One-by-one fallback when /predict/batch is broken, for the whole suite (every part of the
# hidden data): a slow service with a broken batch endpoint must not eat the suite's time.
SCORING_BUDGET_SECONDS = 40.0
PUBLIC_SAMPLE_SIZE = 20  # public examples for the contract checks, every plan and region
METRIC_DECIMALS = 2  # metric values shown to learners

VALID_RECORD: dict[str, Any] = {
    "customer_id": 4821,
    "tenure_months": 14.5,
    "monthly_charges": 72.4,
    "support_tickets_90d": 2,
    "plan": "standard",
    "region": "north",
}


class Api:
    """The learner's service, retrying once when a kept-alive connection was dropped.

    A server that crashed on the previous request may close the connection under the
    next one; that request is innocent and deserves an answer, not a transport error.
    Counts the suite's requests (instructors see the count per check) and holds the suite's
    budget for one-by-one scoring.
    """

    sent = 0  # requests of the whole suite, fixtures included

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.singles_deadline: float | None = None  # set when one-by-one scoring first starts

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        Api.sent += 1
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError:
            Api.sent += 1
            return self.client.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def fail(message: str, section: str) -> NoReturn:
    """Tell the learner what went wrong and where to read about it, then fail the check."""
    feedback(message, section=section)
    pytest.fail(message, pytrace=False)


def vetted_document(openapi: Vetting, section: str, what: str) -> dict[str, Any]:
    """The vetted OpenAPI document, or a failed check that says why it was not read."""
    if openapi.document is None:
        fail(
            f"{what} {openapi.message()} FastAPI serves a safe /openapi.json for free unless "
            "it is switched off or replaced; clients and the grader's fuzzer read it.",
            section,
        )
    return openapi.document


def with_changes(**changes: Any) -> dict[str, Any]:
    """The valid example record with some fields changed (or added)."""
    body = copy.deepcopy(VALID_RECORD)
    body.update(changes)
    return body


def report_problems(wrong: list[str], what: str, why: str, section: str) -> None:
    """Fail with a list of what went wrong (at most 8 lines), why it matters and where to read."""
    if wrong:
        listed = "\n".join(f"- {line}" for line in wrong[:8])
        more = f"\n- … and {len(wrong) - 8} more" if len(wrong) > 8 else ""
        fail(f"{what}\n{listed}{more}\n{why}", section)


def rounded(value: float) -> float:
    """A metric value as learners see it: two decimals, so feedback cannot probe labels."""
    return round(float(value), METRIC_DECIMALS)


def strict_json(text: str) -> Any:
    """Parse JSON as the standard defines it: NaN and Infinity are not JSON."""

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not valid JSON")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:  # nesting too deep for the parser: not a document we can read
        raise ValueError("nested too deeply") from None


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC through ranks (ties averaged), fast enough for bootstrap rounds."""
    labels = np.asarray(labels, dtype=bool)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def bootstrap_interval(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """95 % percentile interval of the ROC AUC, with a fixed seed so grades are repeatable."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    values = []
    for _ in range(BOOTSTRAP_ROUNDS):
        index = rng.integers(0, labels.size, labels.size)
        value = auc(labels[index], scores[index])
        if not math.isnan(value):
            values.append(value)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Request bodies for the rows of a data frame, with JSON-native types."""
    return [
        {
            "customer_id": int(row.customer_id),
            "tenure_months": float(row.tenure_months),
            "monthly_charges": float(row.monthly_charges),
            "support_tickets_90d": int(row.support_tickets_90d),
            "plan": str(row.plan),
            "region": str(row.region),
        }
        for row in frame.itertuples(index=False)
    ]


def public_sample(frame: pd.DataFrame, n: int = PUBLIC_SAMPLE_SIZE) -> list[dict[str, Any]]:
    """n customers of a (public) frame, every plan and region among them; fixed, so grades
    repeat."""
    picked = frame.groupby(["plan", "region"]).head(1)
    rest = frame.drop(picked.index).sample(n=max(0, n - len(picked)), random_state=7)
    return records(pd.concat([picked, rest]))


PREDICTION_KEYS = ("churn_probability", "churned", "model_version")


def prediction_problem(body: Any) -> str | None:
    """What is wrong with one prediction object (grader words only), or None if it is valid."""
    if not isinstance(body, dict):
        return "a prediction is not a JSON object"
    if len(body) != len(PREDICTION_KEYS) or any(key not in body for key in PREDICTION_KEYS):
        return f"a prediction does not have exactly the keys {', '.join(PREDICTION_KEYS)}"
    p = body["churn_probability"]
    if isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p):
        return "churn_probability is not a finite number"
    if not 0.0 <= p <= 1.0:
        return "churn_probability is outside [0, 1]"
    if not isinstance(body["churned"], bool):
        return "churned is not a JSON boolean"
    if body["churned"] != (p >= 0.5):
        return "churned does not equal churn_probability >= 0.5"
    if not isinstance(body["model_version"], str) or not body["model_version"]:
        return "model_version is not a non-empty string"
    return None


@dataclass
class Scored:
    """The learner's probabilities for a list of records, or why they could not be had."""

    probabilities: np.ndarray | None
    problem: str | None = None

    def require(self) -> np.ndarray:
        if self.probabilities is None:
            fail(
                "The grader could not get predictions for its held-out customers: "
                f"{self.problem}. Every quality check needs them, so this check cannot pass.",
                "data-contract",
            )
        assert self.probabilities is not None
        return self.probabilities


def score_records(client: Api, bodies: Sequence[dict[str, Any]]) -> Scored:
    """Probabilities for `bodies`, through /predict/batch in chunks, else one by one."""
    out: list[float] = []
    for start in range(0, len(bodies), 500):
        chunk = list(bodies[start : start + 500])
        got = _score_batch(client, chunk)
        if got is None:
            if client.singles_deadline is None:
                client.singles_deadline = time.monotonic() + SCORING_BUDGET_SECONDS
            got = _score_singly(client, chunk, client.singles_deadline)
        if isinstance(got, str):
            return Scored(None, got)
        out.extend(got)
    return Scored(np.array(out, dtype=float))


def _score_batch(client: Api, chunk: list[dict[str, Any]]) -> list[float] | None:
    try:
        response = client.post("/predict/batch", json={"instances": chunk})
        predictions = strict_json(response.text)["predictions"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if response.status_code != 200 or not isinstance(predictions, list):
        return None
    if len(predictions) != len(chunk) or any(prediction_problem(p) for p in predictions):
        return None
    return [float(p["churn_probability"]) for p in predictions]


def _score_singly(client: Api, chunk: list[dict[str, Any]], deadline: float) -> list[float] | str:
    out = []
    for body in chunk:
        if time.monotonic() > deadline:
            return (
                "/predict/batch did not work and one-by-one predictions took longer than "
                f"{SCORING_BUDGET_SECONDS:.0f} s"
            )
        try:
            response = client.post("/predict", json=body)
            payload = strict_json(response.text)
        except httpx.HTTPError as exc:
            return f"a request to /predict failed ({type(exc).__name__})"
        except ValueError:
            return "/predict answered with a body that is not valid JSON"
        if response.status_code != 200:
            return f"/predict answered a valid request with HTTP {response.status_code}"
        problem = prediction_problem(payload)
        if problem:
            return problem
        out.append(float(payload["churn_probability"]))
    return out


@dataclass
class CardResponse:
    card: dict[str, Any] | None
    problem: str | None = None


def card_value(card: dict[str, Any], *path: str) -> Any:
    """card[path...], or a failed check naming the missing key."""
    value: Any = card
    for depth, key in enumerate(path):
        if not isinstance(value, dict) or key not in value:
            fail(
                f"The model card has no `{'.'.join(path[: depth + 1])}`; the contract on the "
                "exercise page lists every key it must have.",
                "model-card",
            )
        value = value[key]
    return value


def card_number(card: dict[str, Any], *path: str) -> float:
    value = card_value(card, *path)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        fail(f"The model card's `{'.'.join(path)}` is not a finite number.", "model-card")
    return float(value)


def card_split(card: dict[str, Any]) -> date:
    """The validation_start the learner declared, checked against the allowed window."""
    raw = card_value(card, "split", "validation_start")
    try:
        start = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        start = None
    if start is None:
        fail("The model card's `split.validation_start` is not a YYYY-MM-DD date.", "model-card")
    assert start is not None
    if not SPLIT_EARLIEST <= start <= SPLIT_LATEST:
        fail(
            "`split.validation_start` is outside the allowed window "
            f"{SPLIT_EARLIEST.isoformat()} to {SPLIT_LATEST.isoformat()}. A temporal split "
            "needs enough months on each side to train and to validate honestly.",
            "temporal-split",
        )
    return start
