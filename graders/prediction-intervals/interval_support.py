"""Helpers and calibrated thresholds for the delivery-time interval suite.

Calibrated thresholds live here, next to the numbers measured in CALIBRATION.md.

Learner-visible text (fail(), feedback(), record_table()) is text the grader wrote plus values
it computed: counts of its own requests, status codes, metric values rounded to two decimals,
and what it sent from public examples. It never quotes what the service answered, and never
shows a yardstick computed on hidden rows (the grader's baselines on the holdout): once the
service has seen a hidden row, anything it emits could carry that row.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd

from servelab.grading.plugin import fail

FIELDS = ("courier_id", "store_id", "distance_km", "items", "hour", "zone", "vehicle")
FORBIDDEN_FEATURES = ("order_id", "courier_id", "store_id", "customer_rating")
ZONES = ("centre", "suburb", "outskirts")
VEHICLES = ("bike", "scooter", "car")
LINEAR_FEATURES = ["distance_km", "items", "hour"]
SPLIT_STRATEGIES = ("grouped", "temporal")
TARGET = "delivery_minutes"

# Calibrated in CALIBRATION.md (reference vs mutants).
LEVEL = 0.90
OVERALL_BAND = (0.87, 0.93)  # the 95 % interval of overall coverage must meet this band
SLICE_BAND = (0.80, 0.96)  # ... and of each slice's coverage this one
WIDTH_RATIO = 1.0  # mean width at most this times the grader's baseline interval width
MEDIAN_MARGIN = 0.20  # MAE at least 20 % below the median predictor's
LINEAR_MARGIN = 0.04  # MAE at least 4 % below the linear model's
MAE_OPTIMISM = 0.10  # claimed validation MAE may be at most 10 % below the holdout MAE
COVERAGE_OPTIMISM = 0.035  # claimed validation coverage minus holdout coverage
ID_TOLERANCE = 1e-6  # minutes: predictions with other courier and store ids
BATCH_TOLERANCE = 1e-6  # minutes: batch vs singles
Z95 = 1.959964
SCORING_BUDGET_SECONDS = 40.0  # one-by-one fallback when /predict/batch is broken
PUBLIC_SAMPLE_SIZE = 20
METRIC_DECIMALS = 2

VALID_RECORD: dict[str, Any] = {
    "courier_id": 1234,
    "store_id": 456,
    "distance_km": 3.2,
    "items": 2,
    "hour": 12,
    "zone": "centre",
    "vehicle": "bike",
}
PREDICTION_KEYS = ("prediction", "lower", "upper", "model_version")


class Api:
    """The learner's service, retrying once when a kept-alive connection was dropped (a server
    that crashed on the previous request may close it under the next, innocent one)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.singles_deadline: float | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError:
            return self.client.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def rounded(value: float) -> float:
    """A metric value as learners see it: two decimals, so feedback cannot probe labels."""
    return round(float(value), METRIC_DECIMALS)


def strict_json(text: str) -> Any:
    """Parse JSON as the standard defines it: NaN and Infinity are not JSON."""

    def refuse(token: str) -> Any:
        raise ValueError(f"{token} is not valid JSON")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Request bodies for the rows of a data frame, with JSON-native types."""
    return [
        {
            "courier_id": int(row.courier_id),
            "store_id": int(row.store_id),
            "distance_km": float(row.distance_km),
            "items": int(row.items),
            "hour": int(row.hour),
            "zone": str(row.zone),
            "vehicle": str(row.vehicle),
        }
        for row in frame.itertuples(index=False)
    ]


def public_sample(frame: pd.DataFrame, n: int = PUBLIC_SAMPLE_SIZE) -> list[dict[str, Any]]:
    """n deliveries of a (public) frame, every zone and vehicle among them; fixed seed."""
    picked = frame.groupby(["zone", "vehicle"]).head(1)
    rest = frame.drop(picked.index).sample(n=max(0, n - len(picked)), random_state=7)
    return records(pd.concat([picked, rest]))


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def prediction_problem(body: Any) -> str | None:
    """What is wrong with one prediction object (grader words only), or None if it is valid.

    The order of the bounds is its own check (test_bounds_are_ordered), not a shape problem."""
    if not isinstance(body, dict):
        return "a prediction is not a JSON object"
    if len(body) != len(PREDICTION_KEYS) or any(key not in body for key in PREDICTION_KEYS):
        return f"a prediction does not have exactly the keys {', '.join(PREDICTION_KEYS)}"
    for key in ("prediction", "lower", "upper"):
        if not _number(body[key]):
            return f"{key} is not a finite number"
    if not isinstance(body["model_version"], str) or not body["model_version"]:
        return "model_version is not a non-empty string"
    return None


@dataclass
class Intervals:
    """Point predictions and bounds for a list of records (arrays in the records' order)."""

    prediction: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def covers(self, truth: np.ndarray) -> np.ndarray:
        return (self.lower <= truth) & (truth <= self.upper)

    @property
    def width(self) -> np.ndarray:
        return self.upper - self.lower


@dataclass
class Scored:
    """The learner's answers for a list of records, or why they could not be had."""

    intervals: Intervals | None
    problem: str | None = None

    def require(self) -> Intervals:
        if self.intervals is None:
            fail(
                "The grader could not get predictions for its held-out deliveries: "
                f"{self.problem}. Every quality check needs them, so this check cannot pass.",
                section="interval-contract",
            )
        assert self.intervals is not None
        return self.intervals


def score_records(api: Api, bodies: Sequence[dict[str, Any]]) -> Scored:
    """Answers for `bodies`, through /predict/batch in chunks of 500, else one by one."""
    out: list[tuple[float, float, float]] = []
    for start in range(0, len(bodies), 500):
        chunk = list(bodies[start : start + 500])
        got = _score_batch(api, chunk)
        if got is None:
            if api.singles_deadline is None:
                api.singles_deadline = time.monotonic() + SCORING_BUDGET_SECONDS
            got = _score_singly(api, chunk, api.singles_deadline)
        if isinstance(got, str):
            return Scored(None, got)
        out.extend(got)
    table = np.array(out, dtype=float).reshape(-1, 3)
    return Scored(Intervals(table[:, 0], table[:, 1], table[:, 2]))


def _triple(body: dict[str, Any]) -> tuple[float, float, float]:
    return float(body["prediction"]), float(body["lower"]), float(body["upper"])


def _score_batch(api: Api, chunk: list[dict[str, Any]]) -> list[tuple[float, float, float]] | None:
    try:
        response = api.post("/predict/batch", json={"instances": chunk})
        predictions = strict_json(response.text)["predictions"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if response.status_code != 200 or not isinstance(predictions, list):
        return None
    if len(predictions) != len(chunk) or any(prediction_problem(p) for p in predictions):
        return None
    return [_triple(p) for p in predictions]


def _score_singly(
    api: Api, chunk: list[dict[str, Any]], deadline: float
) -> list[tuple[float, float, float]] | str:
    out = []
    for body in chunk:
        if time.monotonic() > deadline:
            return (
                "/predict/batch did not work and one-by-one predictions took longer than "
                f"{SCORING_BUDGET_SECONDS:.0f} s"
            )
        try:
            response = api.post("/predict", json=body)
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
        out.append(_triple(payload))
    return out


def coverage_interval(covered: np.ndarray) -> tuple[float, float, float]:
    """Observed coverage and its 95 % Wilson interval: a slice of a few hundred rows misses
    90 % by a few points by chance alone, so it is judged on the interval, not the point."""
    n = int(covered.size)
    p = float(covered.mean())
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return p, centre - half, centre + half


def meets_band(low: float, high: float, band: tuple[float, float]) -> bool:
    """The coverage interval [low, high] overlaps the band."""
    return high >= band[0] and low <= band[1]


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
                section="model-card",
            )
        value = value[key]
    return value


def card_number(card: dict[str, Any], *path: str) -> float:
    value = card_value(card, *path)
    if not _number(value):
        fail(f"The model card's `{'.'.join(path)}` is not a finite number.", section="model-card")
    return float(value)


def mae(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(truth - predicted)))
