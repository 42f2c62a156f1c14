"""Contract checks on bad input: every class of invalid request gets a JSON 422, never a 5xx."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import httpx
import pytest
from churn_support import (
    FIELDS,
    VALID_RECORD,
    Api,
    fail,
    report_problems,
    strict_json,
    vetted_document,
    with_changes,
)
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from servelab.grading.openapi import Vetting
from servelab.grading.plugin import TimeLimitReached, feedback, time_limit

pytestmark = pytest.mark.category("contract")


def _without(field: str) -> dict[str, Any]:
    body = copy.deepcopy(VALID_RECORD)
    del body[field]
    return body


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


@pytest.mark.points(3)
def test_missing_or_extra_field_is_422(api: Api) -> None:
    """A missing or an extra field gets a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        (f"without {field}", _without(field)) for field in FIELDS
    ]
    cases += [
        ("with an extra field retention_offer_sent", with_changes(retention_offer_sent=1)),
        ("with an extra field note", with_changes(note="hello")),
    ]
    report_problems(
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
        ('tenure_months as the string "14.5"', with_changes(tenure_months="14.5")),
        ('customer_id as the string "4821"', with_changes(customer_id="4821")),
        ("monthly_charges as true", with_changes(monthly_charges=True)),
        ("support_tickets_90d as false", with_changes(support_tickets_90d=False)),
        ('support_tickets_90d as the string "2"', with_changes(support_tickets_90d="2")),
        ("customer_id as true", with_changes(customer_id=True)),
        ("plan as the number 2", with_changes(plan=2)),
        ("region as the number 1", with_changes(region=1)),
        ("tenure_months as null", with_changes(tenure_months=None)),
    ]
    report_problems(
        _expect_422(api, cases),
        "Requests with a value of the wrong JSON type were not refused with a JSON 422:",
        'Coercing "14.5" or true into numbers hides client bugs; use strict types.',
        "input-validation",
    )


@pytest.mark.points(3)
def test_out_of_bounds_is_422(api: Api) -> None:
    """Values outside the documented bounds get a JSON 422"""
    cases: list[tuple[str, str | dict[str, Any]]] = [
        ("customer_id 0", with_changes(customer_id=0)),
        ("customer_id -7", with_changes(customer_id=-7)),
        ("tenure_months -0.5", with_changes(tenure_months=-0.5)),
        ("tenure_months 1200.5", with_changes(tenure_months=1200.5)),
        ("monthly_charges 0", with_changes(monthly_charges=0)),
        ("monthly_charges -20", with_changes(monthly_charges=-20.0)),
        ("monthly_charges 100000.5", with_changes(monthly_charges=100000.5)),
        ("support_tickets_90d -1", with_changes(support_tickets_90d=-1)),
        ("support_tickets_90d 10001", with_changes(support_tickets_90d=10001)),
    ]
    report_problems(
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
    report_problems(
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
        ('plan "gold"', with_changes(plan="gold")),
        ('plan "Basic"', with_changes(plan="Basic")),
        ('region "atlantis"', with_changes(region="atlantis")),
        ('region ""', with_changes(region="")),
    ]
    report_problems(
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
    report_problems(
        _expect_422(api, cases),
        "Malformed or non-object bodies were not refused with a JSON 422:",
        "A service must answer garbage with a clear client error, never a crash.",
        "input-validation",
    )


FUZZ_PLAN = (  # (path, generation mode, examples)
    ("/predict", "positive", 40),
    ("/predict", "negative", 40),
    ("/predict/batch", "negative", 20),
)
# A slow service gets fewer cases rather than eating the suite's time; a fuzz that managed
# fewer than FUZZ_MIN_SENT requests in its budget has not tested anything worth a verdict.
FUZZ_BUDGET_SECONDS = 30.0
FUZZ_MIN_SENT = 20
# Generating cases is work the learner's schema sets (a pattern such as (a{1000}){1000} keeps
# Hypothesis busy for minutes); past this, the whole fuzz is stopped, generation included.
FUZZ_HARD_STOP_SECONDS = FUZZ_BUDGET_SECONDS + 15.0


def _fuzz_operations(openapi: Vetting) -> list[tuple[str, str, int, Any]]:
    """(path, mode, examples, strategy) per planned fuzz, from the vetted document only."""
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.config import SchemathesisConfig

    spec = vetted_document(openapi, "input-validation", "The fuzzer did not run:")
    try:
        # An explicit config: schemathesis would otherwise look for schemathesis.toml files.
        schema = schemathesis.openapi.from_dict(copy.deepcopy(spec), config=SchemathesisConfig())
        return [
            (path, mode, n, schema[path]["POST"].as_strategy(generation_mode=GenerationMode(mode)))
            for path, mode, n in FUZZ_PLAN
        ]
    except Exception:  # any unreadable or incomplete schema ends the check with feedback
        fail(
            "The fuzzer could not find POST /predict and POST /predict/batch with their "
            "request bodies in your /openapi.json, so it cannot exercise them. Declare the "
            "request bodies as Pydantic models.",
            "input-validation",
        )


@pytest.mark.points(2)
def test_fuzz_from_openapi_finds_no_5xx(api: Api, openapi: Vetting) -> None:
    """A property-based fuzz driven by the service's own OpenAPI schema finds no 5xx"""
    crashes: list[str] = []
    deadline = time.monotonic() + FUZZ_BUDGET_SECONDS
    sent = planned = 0
    try:
        with time_limit(FUZZ_HARD_STOP_SECONDS):
            for path, mode, examples, strategy in _fuzz_operations(openapi):
                sent += _fuzz(api, path, mode, examples, strategy, crashes, deadline)
                planned += examples
    except TimeLimitReached:
        fail(
            f"The fuzzer was stopped after {FUZZ_HARD_STOP_SECONDS:.0f} s: generating requests "
            "from your OpenAPI schema took too long (a pattern or constraint that is very "
            "expensive to satisfy). Keep request schemas simple: Literal values for categories, "
            "bounds for numbers.",
            "input-validation",
        )
    if crashes:
        listed = "\n".join(f"- {c}" for c in list(dict.fromkeys(crashes))[:5])
        fail(
            f"Generated requests made the service answer with a server error {len(crashes)} "
            f"times:\n{listed}\nEvery request a client can send must get a 2xx or a 4xx; a 5xx "
            "means input reached code that was not ready for it.",
            "input-validation",
        )
    if sent < FUZZ_MIN_SENT:
        fail(
            f"The service answered so slowly that the fuzzer sent only {sent} of its {planned} "
            f"generated requests within {FUZZ_BUDGET_SECONDS:.0f} s, too few to judge. Make "
            "every answer, including a 422, fast.",
            "latency-and-monitoring",
        )
    if sent < planned:
        feedback(
            f"The service answered slowly, so the fuzzer sent {sent} of its {planned} generated "
            f"requests within its {FUZZ_BUDGET_SECONDS:.0f} s budget; none got a 5xx.",
            section="latency-and-monitoring",
        )


def _fuzz(
    api: Api,
    path: str,
    mode: str,
    examples: int,
    strategy: Any,
    crashes: list[str],
    deadline: float,
) -> int:
    """Send up to `examples` generated cases to `path` before `deadline`; append every 5xx to
    `crashes` and return how many were sent."""
    sent = 0

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def probe(case: Any) -> None:
        nonlocal sent
        if time.monotonic() > deadline:
            return  # out of budget: the remaining cases are generated but not sent
        body = getattr(case, "body", None)
        kwargs: dict[str, Any] = {"headers": {"content-type": "application/json"}}
        if isinstance(body, bytes | bytearray):
            kwargs["content"] = bytes(body)
        elif body is not None and type(body).__name__ != "NotSet":
            kwargs["content"] = json.dumps(body)
        sent += 1
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
    return sent
