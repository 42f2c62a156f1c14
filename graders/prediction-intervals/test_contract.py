"""Contract checks: the service answers the exercise page's contract, built from public rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from interval_support import (
    BATCH_TOLERANCE,
    PREDICTION_KEYS,
    SPLIT_STRATEGIES,
    VALID_RECORD,
    Api,
    prediction_problem,
    public_sample,
    score_records,
    strict_json,
)

from servelab.grading.plugin import fail

pytestmark = pytest.mark.category("contract")


@pytest.mark.points(1)
def test_health_is_ok(api: Api) -> None:
    """GET /health answers 200 with {"status": "ok"}"""
    response = api.get("/health")
    try:
        body = strict_json(response.text)
    except ValueError:
        body = None
    if response.status_code != 200 or body != {"status": "ok"}:
        fail(
            f'GET /health answered HTTP {response.status_code} without {{"status": "ok"}}. '
            "Health is how the platform (and a load balancer) knows the model is loaded.",
            section="interval-contract",
        )


@pytest.mark.points(3)
def test_predict_answers_the_contract(api: Api, train: pd.DataFrame) -> None:
    """POST /predict answers every public example with prediction, lower, upper, model_version"""
    bodies = public_sample(train)
    wrong = []
    for body in bodies:
        response = api.post("/predict", json=body)
        try:
            problem = prediction_problem(strict_json(response.text))
        except ValueError:
            problem = "the body is not valid JSON"
        if response.status_code != 200:
            problem = f"HTTP {response.status_code}"
        if problem:
            wrong.append(problem)
    if wrong:
        fail(
            f"{len(wrong)} of {len(bodies)} valid requests built from train.csv did not get a "
            f"valid answer (first problem: {wrong[0]}). Each answer is a JSON object with "
            f"exactly {', '.join(PREDICTION_KEYS)}: three finite numbers of minutes and a "
            "non-empty version string.",
            section="interval-contract",
        )


@pytest.mark.points(3)
def test_batch_matches_singles(api: Api, train: pd.DataFrame) -> None:
    """POST /predict/batch answers in order, exactly as /predict does one by one"""
    bodies = public_sample(train)
    singles = []
    for body in bodies:
        try:
            payload = strict_json(api.post("/predict", json=body).text)
        except ValueError:
            payload = None
        if prediction_problem(payload):
            fail(
                "Single predictions are not valid, so batch answers cannot be compared "
                "with them; fix POST /predict first.",
                section="interval-contract",
            )
        singles.append([payload[k] for k in ("prediction", "lower", "upper")])
    scored = score_records(Api(api.client), bodies)
    if scored.intervals is None:
        fail(
            "POST /predict/batch with {\"instances\": [...]} did not answer "
            '{"predictions": [...]} with one valid prediction per instance.',
            section="interval-contract",
        )
    batch = np.column_stack(
        [scored.intervals.prediction, scored.intervals.lower, scored.intervals.upper]
    )
    differ = int(np.sum(np.any(np.abs(batch - np.array(singles)) > BATCH_TOLERANCE, axis=1)))
    if differ:
        fail(
            f"{differ} of {len(bodies)} batch answers differ from the same requests sent one "
            "by one. A batch must be the singles in order: one code path for both.",
            section="interval-contract",
        )


def _with(**changes: Any) -> dict[str, Any]:
    body = dict(VALID_RECORD)
    body.update(changes)
    return body


def _without(field: str) -> dict[str, Any]:
    return {k: v for k, v in VALID_RECORD.items() if k != field}


INVALID_BODIES: list[tuple[str, Any]] = [
    ("a missing field (distance_km)", _without("distance_km")),
    ("an extra field (customer_rating, known only after the delivery)", _with(customer_rating=5)),
    ("distance_km as a string", _with(distance_km="3.2")),
    ("items as a fraction", _with(items=2.5)),
    ("a negative distance", _with(distance_km=-1.0)),
    ("hour 24", _with(hour=24)),
    ("zero items", _with(items=0)),
    ("an unknown zone", _with(zone="airport")),
    ("an unknown vehicle", _with(vehicle="drone")),
    ("a JSON array instead of an object", [VALID_RECORD]),
]
RAW_BODIES: list[tuple[str, str]] = [
    ("NaN as distance_km", '{"courier_id": 1, "store_id": 1, "distance_km": NaN, "items": 1, '
     '"hour": 12, "zone": "centre", "vehicle": "bike"}'),
    ("malformed JSON", '{"courier_id": 1,'),
]


@pytest.mark.points(4)
def test_invalid_input_is_422(api: Api) -> None:
    """Missing, extra, mistyped, out-of-range and non-finite input gets 422"""
    wrong = []
    for what, body in INVALID_BODIES:
        status = api.post("/predict", json=body).status_code
        if status != 422:
            wrong.append(f"{what}: HTTP {status}")
    for what, text in RAW_BODIES:
        response = api.post(
            "/predict", content=text, headers={"content-type": "application/json"}
        )
        if response.status_code != 422:
            wrong.append(f"{what}: HTTP {response.status_code}")
    if wrong:
        listed = "\n".join(f"- {line}" for line in wrong)
        fail(
            f"These requests were not refused with 422:\n{listed}\nA model answers any numbers "
            "it is given, so the service must refuse what the contract does not allow before "
            "it reaches the model (Pydantic: extra='forbid', strict types, bounds, "
            "allow_inf_nan=False).",
            section="input-validation",
        )


@pytest.mark.points(2)
def test_batch_size_limits(api: Api) -> None:
    """An empty batch and a batch over 1,000 instances get 422"""
    wrong = []
    for what, instances in (("an empty batch", []), ("1,001 instances", [VALID_RECORD] * 1001)):
        status = api.post("/predict/batch", json={"instances": instances}).status_code
        if status != 422:
            wrong.append(f"{what}: HTTP {status}")
    if wrong:
        fail(
            f"Batch limits not enforced ({'; '.join(wrong)}). A batch holds 1 to 1,000 "
            "instances: the bound keeps one request from taking the service's memory and time.",
            section="input-validation",
        )


@pytest.mark.points(3)
def test_model_card_has_the_contract_keys(card: dict[str, Any]) -> None:
    """GET /model-card has every key of the contract, with the right types"""
    problems = []
    if not isinstance(card.get("model_version"), str) or not card.get("model_version"):
        problems.append("`model_version` is not a non-empty string")
    features = card.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        problems.append("`features` is not a list of names")
    training = card.get("training")
    rows = training.get("rows") if isinstance(training, dict) else None
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        problems.append("`training.rows` is not a positive integer")
    split = card.get("split")
    if not isinstance(split, dict) or split.get("strategy") not in SPLIT_STRATEGIES:
        problems.append(
            "`split.strategy` is not one of " + ", ".join(SPLIT_STRATEGIES)
        )
    interval = card.get("interval")
    if not isinstance(interval, dict) or interval.get("level") != 0.9:
        problems.append("`interval.level` is not 0.9")
    for path in (("metric", "validation"), ("baseline", "validation"),
                 ("interval", "validation_coverage")):
        value: Any = card
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"`{'.'.join(path)}` is not a number")
    if problems:
        listed = "\n".join(f"- {p}" for p in problems)
        fail(
            f"The model card does not follow the contract:\n{listed}\nThe card is the "
            "evidence behind the service: what it learned from, how it was validated, and "
            "how well its intervals covered on rows it had not seen.",
            section="model-card",
        )
