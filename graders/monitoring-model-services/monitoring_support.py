"""Helpers and thresholds of the monitoring exercise's hidden suite (fixtures: conftest.py).

Feedback quotes only what the grader sent (public rows, counts it made) and values it computed
itself, never what the service answered: a service that saw hidden rows could echo them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from servelab.grading import plugin

LESSON = "/lessons/monitoring-model-services"
REQUEST_FIELDS = (
    "payment_id",
    "amount",
    "hour",
    "account_age_days",
    "distance_km",
    "merchant_category",
    "channel",
)
NUMERIC = ("amount", "hour", "account_age_days", "distance_km")
LEVELS = {
    "merchant_category": ("grocery", "fuel", "electronics", "travel", "gaming"),
    "channel": ("pos", "web", "mobile"),
}
DRIFT_FEATURES = (*NUMERIC, *LEVELS)
# Which features the shifted stream moves (generate_data.SHIFTED_FEATURES).
SHIFTED = ("amount", "channel")
MONITORED = ("/predict", "/predict/batch", "/health")
REQUESTS = "model_requests_total"
LATENCY = "model_request_duration_seconds"
SCORES = "model_prediction_score"

# Thresholds (CALIBRATION.md measures the margins).
PSI_THRESHOLD = 0.2
PSI_FLOOR = 0.0001
MIN_ROWS = 100
WINDOW = 1000
PSI_TOLERANCE = 0.02  # |statistic - the grader's PSI|, absolute, or 5 % of it if larger
OPTIMISM_MAX = 0.07
BASELINE_MARGIN = 0.02
SLICE_FLOOR = 0.60
SLICE_GAP_MAX = 0.25


def fail(message: str, section: str) -> NoReturn:
    """plugin.fail with the section positional, as this suite's checks call it."""
    plugin.fail(message, section=section)


def send(service: Any, method: str, path: str, **kwargs: Any) -> Any:
    """One request; None when the service gave no valid HTTP answer (a dropped connection, a
    time-out), which a check then reports in its own words instead of failing without feedback."""
    import httpx

    try:
        return service.request(method, path, **kwargs)
    except httpx.HTTPError:
        return None


def status_of(response: Any) -> str:
    return "no answer" if response is None else f"HTTP {response.status_code}"


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity, which no valid answer contains."""

    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def json_or_none(response: Any) -> Any:
    """The answer's JSON (strict), or None when there is no answer or it is not JSON."""
    if response is None:
        return None
    try:
        return strict_json(response.text)
    except ValueError:
        return None


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Request bodies from a data frame, with the JSON types the contract names."""
    out = []
    for row in frame[list(REQUEST_FIELDS)].itertuples(index=False):
        out.append(
            {
                "payment_id": int(row.payment_id),
                "amount": float(row.amount),
                "hour": int(row.hour),
                "account_age_days": float(row.account_age_days),
                "distance_km": float(row.distance_km),
                "merchant_category": str(row.merchant_category),
                "channel": str(row.channel),
            }
        )
    return out


def probability(body: Any) -> float | None:
    """The fraud_probability of one prediction object, or None if it breaks the schema."""
    if not isinstance(body, dict) or set(body) != {"fraud_probability", "fraud", "model_version"}:
        return None
    p = body["fraud_probability"]
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        return None
    if body["fraud"] is not (p >= 0.5) or not isinstance(body["model_version"], str):
        return None
    return float(p)


@dataclass
class Scored:
    probabilities: list[float] | None
    problem: str = ""


def score_records(service: Any, rows: Sequence[dict[str, Any]], chunk: int = 1000) -> Scored:
    out: list[float] = []
    for start in range(0, len(rows), chunk):
        part = list(rows[start : start + chunk])
        response = send(service, "POST", "/predict/batch", json={"instances": part})
        if response is None:
            return Scored(None, "POST /predict/batch gave no valid HTTP answer")
        if response.status_code != 200:
            return Scored(None, f"POST /predict/batch answered HTTP {response.status_code}")
        try:
            body = strict_json(response.text)
        except ValueError:
            return Scored(None, "POST /predict/batch did not answer valid JSON")
        predictions = body.get("predictions") if isinstance(body, dict) else None
        if not isinstance(predictions, list) or len(predictions) != len(part):
            return Scored(None, "POST /predict/batch did not answer one prediction per instance")
        for item in predictions:
            p = probability(item)
            if p is None:
                return Scored(None, "a batch prediction broke the contract's schema")
            out.append(p)
    return Scored(out)


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """ROC AUC with ties counted half (the Mann-Whitney statistic)."""
    y = np.asarray(labels)
    ranks = pd.Series(np.asarray(scores, dtype=float)).rank().to_numpy()
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


# --- drift: the contract's PSI, computed by the grader --------------------------------------


def shares(reference: pd.Series, values: Iterable[Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(training shares, window shares) over the contract's bins for one feature."""
    window = np.asarray(list(values))
    if name in LEVELS:
        levels = LEVELS[name]
        ref = np.array([(reference == level).mean() for level in levels])
        return ref, np.array([(window == level).mean() for level in levels])
    ref_values = reference.to_numpy(dtype=float)
    edges = np.unique(np.quantile(ref_values, np.arange(1, 10) / 10))
    k = edges.size + 1
    ref = np.bincount(np.searchsorted(edges, ref_values, side="right"), minlength=k)
    win = np.bincount(np.searchsorted(edges, window.astype(float), side="right"), minlength=k)
    return ref / ref_values.size, win / window.size


def psi(reference: pd.Series, values: Iterable[Any], name: str) -> float:
    p, q = shares(reference, values, name)
    p, q = np.maximum(p, PSI_FLOOR), np.maximum(q, PSI_FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def close_to(statistic: Any, expected: float) -> bool:
    if isinstance(statistic, bool) or not isinstance(statistic, int | float):
        return False
    if not math.isfinite(statistic):
        return False
    return abs(statistic - expected) <= max(PSI_TOLERANCE, 0.05 * expected)


# --- /metrics ---------------------------------------------------------------------------------


@dataclass
class Exposition:
    """A parsed /metrics answer: family types by name, samples as (name, labels, value)."""

    types: dict[str, str]
    samples: list[tuple[str, dict[str, str], float]]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
        return sum(
            v
            for n, lab, v in self.samples
            if n == name and all(lab.get(k) == want for k, want in labels.items())
        )

    def label_sets(self, name: str) -> list[dict[str, str]]:
        return [lab for n, lab, _ in self.samples if n == name]


class ExpositionError(ValueError):
    pass


def parse_exposition(text: str) -> Exposition:
    """Parse with prometheus_client's own parser, as a Prometheus server would read it."""
    from prometheus_client.parser import text_string_to_metric_families

    types: dict[str, str] = {}
    samples: list[tuple[str, dict[str, str], float]] = []
    try:
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for sample in family.samples:
                samples.append((sample.name, dict(sample.labels), float(sample.value)))
    except Exception as exc:  # the parser raises ValueError, and others on odd input
        raise ExpositionError(type(exc).__name__) from None
    return Exposition(types, samples)


def family_type(exposition: Exposition, name: str) -> str | None:
    """The declared type of a metric family; the parser drops a counter's _total suffix."""
    base = name.removesuffix("_total")
    return exposition.types.get(base) or exposition.types.get(name)


def buckets(exposition: Exposition, name: str, **labels: str) -> list[tuple[float, float]]:
    """(le, cumulative count) pairs of a histogram, in order of le."""
    out = []
    for n, lab, v in exposition.samples:
        if n == f"{name}_bucket" and all(lab.get(k) == want for k, want in labels.items()):
            try:
                out.append((float(lab.get("le", "nan")), v))
            except ValueError:
                out.append((float("nan"), v))
    return sorted(out, key=lambda pair: pair[0])
