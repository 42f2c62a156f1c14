"""Contract checks: the API behaves exactly as the exercise page says, for good and bad input."""

from __future__ import annotations

import copy
import json
import time
from datetime import date
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from churn_support import (
    FIELDS,
    LATENCY_P95_SECONDS,
    NUMERIC,
    PROBABILITY_TOLERANCE,
    SPLIT_EARLIEST,
    SPLIT_LATEST,
    VALID_RECORD,
    Api,
    fail,
    prediction_problem,
    records,
    strict_json,
)
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

pytestmark = pytest.mark.category("contract")

ENDPOINTS = {
    "/predict": "post",
    "/predict/batch": "post",
    "/health": "get",
    "/model-card": "get",
}


def _with(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(VALID_RECORD)
    body.update(changes)
    return body


def _without(field: str) -> dict[str, Any]:
    body = copy.deepcopy(VALID_RECORD)
    del body[field]
    return body


def _sample(holdout: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """n holdout customers, every plan and region among them (fixed, so grades repeat)."""
    picked = holdout.groupby(["plan", "region"]).head(1)
    rest = holdout.drop(picked.index).sample(n=max(0, n - len(picked)), random_state=7)
    return records(pd.concat([picked, rest]))


def _expect_422(api: Api, cases: list[tuple[str, str | dict[str, Any]]]) -> list[str]:
    """Send each (description, body) to /predict; describe every answer that is not a JSON 422."""
    wrong = []
    for description, body in cases:
        try:
            if isinstance(body, str):
                response = api.post(
                    "/predict", content=body, headers={"content-type": "application/json"}
                )
            else:
                response = api.post("/predict", json=body)
        except httpx.HTTPError as exc:
            wrong.append(f"{description}: the request failed ({type(exc).__name__})")
            continue
        if response.status_code != 422:
            wrong.append(f"{description}: HTTP {response.status_code} instead of 422")
            continue
        try:
            strict_json(response.text)
        except ValueError:
            wrong.append(f"{description}: the 422 body is not valid JSON")
    return wrong


def _report(wrong: list[str], what: str, why: str, section: str) -> None:
    if wrong:
        listed = "\n".join(f"- {line}" for line in wrong[:8])
        more = f"\n- … and {len(wrong) - 8} more" if len(wrong) > 8 else ""
        fail(f"{what}\n{listed}{more}\n{why}", section)


def _body_schema(spec: dict[str, Any], path: str) -> dict[str, Any] | None:
    try:
        schema = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = spec["components"]["schemas"][name]
    except (KeyError, TypeError, AttributeError):
        return None
    return schema if isinstance(schema, dict) else None


@pytest.mark.points(2)
def test_openapi_declares_endpoints(api: Api) -> None:
    """/openapi.json declares the four endpoints and the request schema"""
    try:
        spec = strict_json(api.get("/openapi.json").text)
    except (ValueError, httpx.HTTPError):
        fail(
            "GET /openapi.json did not return a JSON document. FastAPI serves it for free "
            "unless it is switched off; clients and the grader's fuzzer read it.",
            "data-contract",
        )
    paths = spec.get("paths", {}) if isinstance(spec, dict) else {}
    missing = [f"{m.upper()} {p}" for p, m in ENDPOINTS.items() if m not in paths.get(p, {})]
    if missing:
        fail(
            f"The OpenAPI document does not declare: {', '.join(missing)}. Every endpoint of "
            "the contract must exist with the right method.",
            "data-contract",
        )
    schema = _body_schema(spec, "/predict")
    declared = set((schema or {}).get("properties", {}))
    if not set(FIELDS) <= declared:
        fail(
            "POST /predict does not declare a JSON request body with the six fields "
            f"({', '.join(FIELDS)}). Declare it as a Pydantic model so FastAPI validates "
            "requests and documents them.",
            "input-validation",
        )


@pytest.mark.points(1)
def test_health(api: Api) -> None:
    """GET /health answers {"status": "ok"}"""
    response = api.get("/health")
    try:
        body = strict_json(response.text)
    except ValueError:
        body = None
    if response.status_code != 200 or body != {"status": "ok"}:
        fail(
            f'GET /health answered HTTP {response.status_code} without the body {{"status": '
            '"ok"}. Orchestrators route traffic by this answer.',
            "latency-and-monitoring",
        )


@pytest.mark.points(3)
def test_valid_requests_get_valid_responses(api: Api, holdout: pd.DataFrame) -> None:
    """Valid requests, every plan and region, get schema-valid predictions"""
    wrong = []
    for body in _sample(holdout, 30):
        response = api.post("/predict", json=body)
        where = f"plan={body['plan']}, region={body['region']}"
        if response.status_code != 200:
            wrong.append(f"{where}: HTTP {response.status_code}")
            continue
        try:
            problem = prediction_problem(strict_json(response.text))
        except ValueError:
            problem = "the body is not valid JSON"
        if problem:
            wrong.append(f"{where}: {problem}")
    _report(
        wrong,
        "Some valid requests did not get a prediction that follows the contract:",
        "Clients parse every field of the response; one that breaks the schema breaks them.",
        "data-contract",
    )


@pytest.mark.points(3)
def test_model_card_shape(api: Api) -> None:
    """GET /model-card has every key of the contract, with the right types"""
    try:
        card = strict_json(api.get("/model-card").text)
    except (ValueError, httpx.HTTPError):
        card = None
    problems = _card_problems(card)
    _report(
        problems,
        "The model card does not follow the contract:",
        "The model card is how reviewers (and this grader) audit your split and metrics.",
        "model-card",
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _card_problems(card: Any) -> list[str]:
    if not isinstance(card, dict):
        return ["GET /model-card did not return a JSON object"]
    problems = []

    def at(*path: str) -> Any:
        value: Any = card
        for key in path:
            if not isinstance(value, dict) or key not in value:
                problems.append(f"`{'.'.join(path)}` is missing")
                return None
            value = value[key]
        return value

    if not isinstance(at("model_version"), str):
        problems.append("`model_version` must be a string")
    features = at("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        problems.append("`features` must be a list of field names")
    rows = at("training", "rows")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        problems.append("`training.rows` must be a positive integer")
    if at("split", "strategy") != "temporal":
        problems.append('`split.strategy` must be "temporal"')
    start = at("split", "validation_start")
    try:
        ok = isinstance(start, str) and SPLIT_EARLIEST <= date.fromisoformat(start) <= SPLIT_LATEST
    except ValueError:
        ok = False
    if not ok:
        problems.append("`split.validation_start` must be a YYYY-MM-DD date in the allowed window")
    means = at("preprocessing", "numeric_means")
    if not isinstance(means, dict) or not all(_is_number(means.get(c)) for c in NUMERIC):
        problems.append("`preprocessing.numeric_means` needs a number for each numeric field")
    if at("metric", "name") != "roc_auc":
        problems.append('`metric.name` must be "roc_auc"')
    if not _is_number(at("metric", "validation")):
        problems.append("`metric.validation` must be a number")
    if not isinstance(at("baseline", "name"), str):
        problems.append("`baseline.name` must be a string")
    if not _is_number(at("baseline", "validation")):
        problems.append("`baseline.validation` must be a number")
    return list(dict.fromkeys(problems))


@pytest.mark.points(3)
def test_missing_or_extra_field_is_422(api: Api) -> None:
    """A missing or an extra field gets a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        (f"without {field}", _without(field)) for field in FIELDS
    ]
    cases += [
        ("with an extra field retention_offer_sent", _with(retention_offer_sent=1)),
        ("with an extra field note", _with(note="hello")),
    ]
    _report(
        _expect_422(api, cases),
        "Requests with a missing or an extra field were not refused with a JSON 422:",
        "A silently ignored or defaulted field means the model predicts from data the client "
        "never sent. Forbid extra fields in the request model.",
        "input-validation",
    )


@pytest.mark.points(3)
def test_wrong_types_are_422(api: Api) -> None:
    """Strings or booleans for numbers, numbers for strings, get a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        ('tenure_months as the string "14.5"', _with(tenure_months="14.5")),
        ('customer_id as the string "4821"', _with(customer_id="4821")),
        ("monthly_charges as true", _with(monthly_charges=True)),
        ("support_tickets_90d as false", _with(support_tickets_90d=False)),
        ('support_tickets_90d as the string "2"', _with(support_tickets_90d="2")),
        ("customer_id as true", _with(customer_id=True)),
        ("plan as the number 2", _with(plan=2)),
        ("region as the number 1", _with(region=1)),
        ("tenure_months as null", _with(tenure_months=None)),
    ]
    _report(
        _expect_422(api, cases),
        "Requests with a value of the wrong JSON type were not refused with a JSON 422:",
        'Coercing "14.5" or true into numbers hides client bugs; use strict types.',
        "input-validation",
    )


@pytest.mark.points(3)
def test_out_of_bounds_is_422(api: Api) -> None:
    """Values outside the documented bounds get a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        ("customer_id 0", _with(customer_id=0)),
        ("customer_id -7", _with(customer_id=-7)),
        ("tenure_months -0.5", _with(tenure_months=-0.5)),
        ("tenure_months 1200.5", _with(tenure_months=1200.5)),
        ("monthly_charges 0", _with(monthly_charges=0)),
        ("monthly_charges -20", _with(monthly_charges=-20.0)),
        ("monthly_charges 100000.5", _with(monthly_charges=100000.5)),
        ("support_tickets_90d -1", _with(support_tickets_90d=-1)),
        ("support_tickets_90d 10001", _with(support_tickets_90d=10001)),
    ]
    _report(
        _expect_422(api, cases),
        "Requests with values outside the bounds were not refused with a JSON 422:",
        "Bounds are part of the data contract: a negative tenure is a broken client, not a "
        "customer, and a model answer for it is meaningless.",
        "input-validation",
    )


def _raw(**tokens: str) -> str:
    """The valid record as JSON text with some values replaced by raw tokens (e.g. NaN)."""
    parts = []
    for key, value in VALID_RECORD.items():
        text = tokens.get(key)
        parts.append(f'"{key}": {text if text is not None else json.dumps(value)}')
    return "{" + ", ".join(parts) + "}"


@pytest.mark.points(3)
def test_non_finite_numbers_are_422(api: Api) -> None:
    """NaN, Infinity, -Infinity and 1e999 in the body get a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        ("tenure_months NaN", _raw(tenure_months="NaN")),
        ("monthly_charges Infinity", _raw(monthly_charges="Infinity")),
        ("tenure_months -Infinity", _raw(tenure_months="-Infinity")),
        ("monthly_charges 1e999", _raw(monthly_charges="1e999")),
        ("support_tickets_90d NaN", _raw(support_tickets_90d="NaN")),
        ("customer_id Infinity", _raw(customer_id="Infinity")),
    ]
    _report(
        _expect_422(api, cases),
        "Requests containing non-finite numbers were not refused with a JSON 422:",
        "Python's JSON parser accepts these tokens; a NaN that reaches the model yields a NaN "
        "prediction, and FastAPI's default error handler fails while echoing it (a 500). "
        "Refuse non-finite floats and write a handler that does not echo the input.",
        "nan-and-infinity",
    )


@pytest.mark.points(2)
def test_unknown_category_is_422(api: Api) -> None:
    """An unknown plan or region gets a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        ('plan "gold"', _with(plan="gold")),
        ('plan "Basic"', _with(plan="Basic")),
        ('region "atlantis"', _with(region="atlantis")),
        ('region ""', _with(region="")),
    ]
    _report(
        _expect_422(api, cases),
        "Requests with an unknown plan or region were not refused with a JSON 422:",
        "An unseen category is silently encoded as 'none of the above' and the model answers "
        "with confidence it does not have. Declare the allowed values (e.g. Literal).",
        "input-validation",
    )


@pytest.mark.points(2)
def test_malformed_json_is_422(api: Api) -> None:
    """A truncated or non-object JSON body gets a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        ("a truncated object", '{"customer_id": 4821, "tenure_mon'),
        ("an empty body", ""),
        ("a JSON array", "[]"),
        ("a JSON string", '"hello"'),
        ("a JSON number", "42"),
        ("JSON null", "null"),
    ]
    _report(
        _expect_422(api, cases),
        "Malformed or non-object bodies were not refused with a JSON 422:",
        "A service must answer garbage with a clear client error, never a crash.",
        "input-validation",
    )


@pytest.mark.points(2)
def test_shifted_inputs_inside_bounds(api: Api) -> None:
    """Values far outside the training range but inside the bounds still get a prediction"""
    cases = [
        ("tenure_months 1200", _with(tenure_months=1200.0)),
        ("tenure_months 0", _with(tenure_months=0.0)),
        ("monthly_charges 100000", _with(monthly_charges=100000.0)),
        ("monthly_charges 0.01", _with(monthly_charges=0.01)),
        ("support_tickets_90d 10000", _with(support_tickets_90d=10000)),
        ("customer_id 2147483647", _with(customer_id=2**31 - 1)),
        (
            "everything at its upper bound, islands",
            _with(
                tenure_months=1200.0,
                monthly_charges=100000.0,
                support_tickets_90d=10000,
                region="islands",
                plan="premium",
            ),
        ),
    ]
    wrong = []
    for description, body in cases:
        response = api.post("/predict", json=body)
        try:
            problem = (
                f"HTTP {response.status_code}"
                if response.status_code != 200
                else prediction_problem(strict_json(response.text))
            )
        except ValueError:
            problem = "the body is not valid JSON"
        if problem:
            wrong.append(f"{description}: {problem}")
    _report(
        wrong,
        "Inputs inside the bounds but far from the training data did not get a valid answer:",
        "Data drifts; overflow in a scaler or an exp() must not turn a legal request into a "
        "500 or a probability outside [0, 1].",
        "input-validation",
    )


@pytest.mark.points(3)
def test_batch_equals_singles(api: Api, holdout: pd.DataFrame) -> None:
    """/predict/batch answers in order, each equal to the single prediction"""
    bodies = _sample(holdout, 60)
    response = api.post("/predict/batch", json={"instances": bodies})
    try:
        predictions = strict_json(response.text).get("predictions")
    except (ValueError, AttributeError):
        predictions = None
    if response.status_code != 200 or not isinstance(predictions, list):
        fail(
            f"POST /predict/batch with 60 valid instances answered HTTP {response.status_code} "
            'without a {"predictions": [...]} object.',
            "data-contract",
        )
    if len(predictions) != len(bodies):
        fail(
            f"POST /predict/batch returned {len(predictions)} predictions for "
            f"{len(bodies)} instances.",
            "data-contract",
        )
    mismatches = 0
    for body, batch_prediction in zip(bodies, predictions, strict=True):
        single = strict_json(api.post("/predict", json=body).text)
        if prediction_problem(batch_prediction) or prediction_problem(single):
            mismatches += 1
            continue
        same = abs(batch_prediction["churn_probability"] - single["churn_probability"])
        if same > PROBABILITY_TOLERANCE or batch_prediction["churned"] != single["churned"]:
            mismatches += 1
    if mismatches:
        fail(
            f"{mismatches} of {len(bodies)} batch predictions differ from the single prediction "
            "for the same customer (or are not valid predictions). Batch and single endpoints "
            "must share one code path so they cannot drift apart.",
            "data-contract",
        )


@pytest.mark.points(1)
def test_batch_size_limits(api: Api) -> None:
    """A batch of 0 or more than 1000 instances gets a JSON 422"""
    wrong = []
    for description, count in (("0 instances", 0), ("1001 instances", 1001)):
        response = api.post("/predict/batch", json={"instances": [VALID_RECORD] * count})
        if response.status_code != 422:
            wrong.append(f"{description}: HTTP {response.status_code} instead of 422")
    _report(
        wrong,
        "Batches outside 1 to 1000 instances were not refused:",
        "Unbounded batches let one client exhaust the service's memory and time.",
        "input-validation",
    )


@pytest.mark.points(1)
def test_predictions_are_deterministic(api: Api, holdout: pd.DataFrame) -> None:
    """The same request always gets the same answer"""
    bodies = _sample(holdout, 20)
    first = [api.post("/predict", json=b).text for b in bodies]
    second = [api.post("/predict", json=b).text for b in bodies]
    differing = 0
    for a, b in zip(first, second, strict=True):
        try:
            pa, pb = strict_json(a), strict_json(b)
            if abs(pa["churn_probability"] - pb["churn_probability"]) > PROBABILITY_TOLERANCE:
                differing += 1
        except (ValueError, KeyError, TypeError):
            differing += 1
    if differing:
        fail(
            f"{differing} of {len(bodies)} repeated requests got a different (or no valid) "
            "answer. Predictions must not depend on randomness or on earlier requests.",
            "data-contract",
        )


@pytest.mark.points(1)
def test_single_prediction_latency(api: Api) -> None:
    """p95 latency of single predictions is within the budget"""
    for _ in range(5):
        api.post("/predict", json=VALID_RECORD)
    timings = []
    for i in range(60):
        body = _with(customer_id=1000 + i, tenure_months=float(i))
        started = time.perf_counter()
        api.post("/predict", json=body)
        timings.append(time.perf_counter() - started)
    p95 = float(np.percentile(timings, 95))
    if p95 > LATENCY_P95_SECONDS:
        fail(
            f"The 95th percentile of single-prediction latency was {p95 * 1000:.0f} ms, over "
            f"the {LATENCY_P95_SECONDS * 1000:.0f} ms budget. Load the model once at startup, "
            "not per request, and avoid heavy per-request work.",
            "latency-and-monitoring",
        )


def _fuzz_operation(api: Api, path: str) -> Any:
    import schemathesis

    try:
        raw = strict_json(api.get("/openapi.json").text)
        return schemathesis.openapi.from_dict(raw)[path]["POST"]
    except Exception:  # any unreadable or incomplete schema ends the check with feedback
        fail(
            f"The fuzzer could not find POST {path} in your /openapi.json, so it cannot "
            "exercise it. Declare the request body as a Pydantic model.",
            "input-validation",
        )


@pytest.mark.points(2)
def test_fuzz_from_openapi_finds_no_5xx(api: Api) -> None:
    """A property-based fuzz driven by the service's own OpenAPI schema finds no 5xx"""
    from schemathesis import GenerationMode

    crashes: list[str] = []
    strategies = []
    for path, mode, examples in (
        ("/predict", GenerationMode.POSITIVE, 60),
        ("/predict", GenerationMode.NEGATIVE, 60),
        ("/predict/batch", GenerationMode.NEGATIVE, 25),
    ):
        operation = _fuzz_operation(api, path)
        strategies.append((path, mode, examples, operation.as_strategy(generation_mode=mode)))

    for path, mode, examples, strategy in strategies:
        _fuzz(api, path, mode.value, examples, strategy, crashes)
    if crashes:
        listed = "\n".join(f"- {c}" for c in list(dict.fromkeys(crashes))[:5])
        fail(
            f"Generated requests made the service answer with a server error {len(crashes)} "
            f"times:\n{listed}\nEvery request a client can send must get a 2xx or a 4xx; a 5xx "
            "means input reached code that was not ready for it.",
            "input-validation",
        )


def _fuzz(api: Api, path: str, mode: str, examples: int, strategy: Any, crashes: list[str]) -> None:
    """Run `examples` generated cases against `path`, appending every 5xx to `crashes`."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def probe(case: Any) -> None:
        body = getattr(case, "body", None)
        kwargs: dict[str, Any] = {"headers": {"content-type": "application/json"}}
        if isinstance(body, bytes | bytearray):
            kwargs["content"] = bytes(body)
        elif body is not None and type(body).__name__ != "NotSet":
            kwargs["content"] = json.dumps(body)
        try:
            status = api.post(path, **kwargs).status_code
        except httpx.HTTPError as exc:
            crashes.append(f"{mode} case on {path}: {type(exc).__name__}")
            return
        if status >= 500:
            crashes.append(f"{mode} case on {path}: HTTP {status}")

    try:
        probe()
    except Unsatisfiable:
        pass  # no schema to break (e.g. an undeclared body): nothing to generate in this mode
