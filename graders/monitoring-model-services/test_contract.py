"""Contract checks: endpoints, schema, refusals, batch; all sent from public train.csv rows."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from monitoring_support import fail, json_or_none, probability, send, status_of, strict_json


@pytest.mark.category("contract")
@pytest.mark.points(2)
def test_openapi_declares_endpoints(service: httpx.Client) -> None:
    """/openapi.json declares every endpoint of the contract"""
    response = send(service, "GET", "/openapi.json")
    try:
        ok = response is not None and response.status_code == 200
        paths = strict_json(response.text).get("paths", {}) if ok else {}
    except (ValueError, AttributeError):
        paths = {}
    wanted = {
        "/predict": "post",
        "/predict/batch": "post",
        "/health": "get",
        "/model-card": "get",
        "/metrics": "get",
        "/drift": "get",
        "/drift/reset": "post",
    }
    missing = [
        f"{method.upper()} {path}"
        for path, method in wanted.items()
        if not isinstance(paths, dict) or method not in (paths.get(path) or {})
    ]
    if missing:
        fail(f"/openapi.json does not declare: {', '.join(missing)}.", "data-contract")


@pytest.mark.category("contract")
@pytest.mark.points(3)
def test_valid_prediction_follows_schema(
    service: httpx.Client, examples: list[dict[str, Any]]
) -> None:
    """Valid requests get {fraud_probability, fraud, model_version}"""
    bad = 0
    for body in examples[:20]:
        r = send(service, "POST", "/predict", json=body)
        try:
            ok = (
                r is not None
                and r.status_code == 200
                and probability(strict_json(r.text)) is not None
            )
        except ValueError:
            ok = False
        bad += not ok
    if bad:
        fail(
            f"{bad} of 20 valid requests (rows of train.csv) did not get 200 with exactly "
            "fraud_probability in [0, 1], fraud = fraud_probability >= 0.5 and a string "
            "model_version.",
            "data-contract",
        )


def _invalid_bodies(example: dict[str, Any]) -> dict[str, bytes]:
    def dump(body: Any) -> bytes:
        return json.dumps(body).encode()

    without = {k: v for k, v in example.items() if k != "hour"}
    nan = dump(example).replace(
        f'"amount": {json.dumps(example["amount"])}'.encode(), b'"amount": NaN'
    )
    return {
        "a missing field": dump(without),
        "an extra field": dump({**example, "chargeback_filed": 0}),
        "a string where a number is expected": dump({**example, "amount": "12.5"}),
        "a negative amount": dump({**example, "amount": -1.0}),
        "hour 24": dump({**example, "hour": 24}),
        "NaN in the body": nan,
        "an unknown channel": dump({**example, "channel": "fax"}),
        "an unknown merchant category": dump({**example, "merchant_category": "casino"}),
        "truncated JSON": dump(example)[:-5],
        "a JSON array": b"[1, 2]",
    }


@pytest.mark.category("contract")
@pytest.mark.points(4)
def test_invalid_input_is_422(service: httpx.Client, examples: list[dict[str, Any]]) -> None:
    """Each kind of invalid input gets a JSON 422, never a 5xx"""
    wrong = []
    for what, content in _invalid_bodies(examples[0]).items():
        headers = {"content-type": "application/json"}
        r = send(service, "POST", "/predict", content=content, headers=headers)
        try:
            ok = r is not None and r.status_code == 422 and strict_json(r.text) is not None
        except ValueError:
            ok = False
        if not ok:
            wrong.append(f"{what} ({status_of(r)})")
    if wrong:
        fail(
            "These invalid bodies did not get a JSON 422: " + "; ".join(wrong) + ".",
            "input-validation",
        )


@pytest.mark.category("contract")
@pytest.mark.points(3)
def test_batch_equals_singles(service: httpx.Client, examples: list[dict[str, Any]]) -> None:
    """POST /predict/batch answers in order, each equal to the single prediction"""
    rows = examples[30:60]
    r = send(service, "POST", "/predict/batch", json={"instances": rows})
    try:
        batch = strict_json(r.text).get("predictions") if r and r.status_code == 200 else None
    except (ValueError, AttributeError):
        batch = None
    if not isinstance(batch, list) or len(batch) != len(rows):
        fail("A batch of 30 valid rows did not get 30 predictions.", "data-contract")
    assert isinstance(batch, list)
    differ = 0
    for row, item in zip(rows, batch, strict=True):
        single = send(service, "POST", "/predict", json=row)
        a = probability(item)
        b = probability(json_or_none(single)) if single and single.status_code == 200 else None
        differ += a is None or b is None or abs(a - b) > 1e-9
    if differ:
        fail(f"{differ} of 30 batch predictions differ from the single ones.", "data-contract")


@pytest.mark.category("contract")
@pytest.mark.points(2)
def test_batch_size_limits(service: httpx.Client, examples: list[dict[str, Any]]) -> None:
    """Batches of 0 or more than 1000 instances get 422"""
    empty = send(service, "POST", "/predict/batch", json={"instances": []})
    big = send(service, "POST", "/predict/batch", json={"instances": [examples[0]] * 1001})
    if any(r is None or r.status_code != 422 for r in (empty, big)):
        fail(
            f"An empty batch got {status_of(empty)} and a batch of 1001 got {status_of(big)}; "
            "both must be 422.",
            "input-validation",
        )


@pytest.mark.category("contract")
@pytest.mark.points(2)
def test_health_and_model_card(service: httpx.Client, card: dict[str, Any]) -> None:
    """GET /health answers ok and the model card has the contract's fields"""
    health = send(service, "GET", "/health")
    problems = []
    if health is None or health.status_code != 200 or json_or_none(health) != {"status": "ok"}:
        problems.append('GET /health must answer 200 {"status": "ok"}')
    for key in ("model_version", "features", "training", "split", "metric", "baseline"):
        if key not in card:
            problems.append(f"the model card has no '{key}'")
    if problems:
        fail("; ".join(problems) + ".", "model-card")
