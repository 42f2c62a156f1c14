"""Vetting a learner's OpenAPI document: local references only, no cycles, bounded work."""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from servelab.grading.openapi import (
    MAX_REF_HOPS,
    RefError,
    dereference,
    resolve_local_ref,
    vet_openapi_document,
    vet_openapi_text,
)

MARKER = "learner-text-7f3a"  # must never come back in a problem message


class Customer(BaseModel):
    customer_id: int = Field(ge=1)
    plan: Literal["basic", "standard", "premium"]


class Batch(BaseModel):
    instances: list[Customer] = Field(min_length=1, max_length=1000)


def _fastapi_document() -> dict[str, Any]:
    app = FastAPI(title="Churn")

    @app.post("/predict")
    def predict(customer: Customer) -> dict[str, float]:
        return {"p": 0.5}

    @app.post("/predict/batch")
    def predict_batch(batch: Batch) -> dict[str, list[float]]:
        return {"p": [0.5]}

    return copy.deepcopy(app.openapi())


def _with_ref(ref: object) -> dict[str, Any]:
    doc = _fastapi_document()
    doc["components"]["schemas"]["Customer"]["properties"]["plan"] = {"$ref": ref}
    return doc


def _problems(doc: object) -> str:
    vetting = vet_openapi_document(doc)
    assert not vetting.ok and vetting.document is None
    message = vetting.message()
    assert MARKER not in message
    return message


def test_a_fastapi_document_is_accepted_as_is() -> None:
    doc = _fastapi_document()
    vetting = vet_openapi_text(json.dumps(doc))
    assert vetting.ok and vetting.problems == ()
    assert vetting.document == doc


@pytest.mark.parametrize(
    ("ref", "named"),
    [
        (f"http://127.0.0.1:9/{MARKER}", "web addresses"),
        (f"https://example.org/{MARKER}.json", "web addresses"),
        (f"//example.org/{MARKER}", "web addresses"),
        (f"file:///etc/{MARKER}", "files (file://)"),
        (f"FILE:///tmp/{MARKER}", "files (file://)"),
        (f"{MARKER}.json#/Customer", "relative files"),
        (f"../{MARKER}.yaml", "relative files"),
        (f"urn:{MARKER}", "other addresses"),
        (f"#{MARKER}", "anchors"),
        ("#/components/schemas/%43ustomer", "escaped pointers"),
    ],
)
def test_a_reference_outside_the_document_is_refused_without_quoting_it(
    ref: str, named: str
) -> None:
    message = _problems(_with_ref(ref))
    assert named in message
    assert "fetched and opened nothing" in message and "#/" in message


def test_every_kind_of_outside_reference_is_named_once() -> None:
    doc = _with_ref("http://127.0.0.1:9/x")
    doc["components"]["schemas"]["Customer"]["properties"]["customer_id"] = {
        "$ref": "file:///etc/passwd"
    }
    message = _problems(doc)
    assert message.count("web addresses") == 1 and message.count("files (file://)") == 1


def test_a_local_reference_that_points_at_nothing_is_refused() -> None:
    message = _problems(_with_ref(f"#/components/schemas/{MARKER}"))
    assert "one $ref starting with #/ that point at nothing" in message


def test_a_reference_that_is_not_text_or_not_an_object_is_refused() -> None:
    assert "not text" in _problems(_with_ref({"nested": MARKER}))
    assert "not an object" in _problems(_with_ref("#/openapi"))


def test_pointer_tokens_are_unescaped_and_list_indices_must_be_canonical() -> None:
    doc = {"a": {"x/y": {"~z": {"type": "string"}}}, "list": [{"type": "integer"}]}
    assert resolve_local_ref(doc, "#/a/x~1y/~0z") == {"type": "string"}
    assert resolve_local_ref(doc, "#/list/0") == {"type": "integer"}
    for ref in ("#/list/00", "#/list/-1", "#/list/1", "#/a/missing", "#/a/x~1y/~0z/type/deeper"):
        with pytest.raises(RefError):
            resolve_local_ref(doc, ref)
    with pytest.raises(RefError):
        resolve_local_ref(doc, "http://127.0.0.1:9/a")


@pytest.mark.parametrize(
    "schemas",
    [
        {"A": {"$ref": "#/components/schemas/A"}},  # an alias of itself
        {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}},
        {  # a model that contains itself (a tree): a fuzzer would expand it forever
            "A": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/A"}}}
        },
        {"A": {"allOf": [{"$ref": "#/components"}]}},  # points at one of its own ancestors
    ],
)
def test_reference_cycles_are_refused(schemas: dict[str, Any]) -> None:
    doc = _fastapi_document()
    doc["components"]["schemas"].update(schemas)
    assert "form a cycle" in _problems(doc)


def test_shared_references_without_a_cycle_are_fine() -> None:
    doc = _fastapi_document()
    doc["components"]["schemas"]["Pair"] = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/components/schemas/Customer"},
            "b": {"$ref": "#/components/schemas/Customer"},
        },
    }
    assert vet_openapi_document(doc).ok


def test_references_that_multiply_are_refused_before_anything_expands_them() -> None:
    # 40 levels, each referring to the one below twice: 2**40 values once expanded.
    schemas: dict[str, Any] = {"L0": {"type": "string"}}
    for level in range(1, 41):
        below = {"$ref": f"#/components/schemas/L{level - 1}"}
        schemas[f"L{level}"] = {"type": "array", "prefixItems": [below, copy.deepcopy(below)]}
    doc = _fastapi_document()
    doc["components"]["schemas"].update(schemas)
    assert "would have more than" in _problems(doc)


def test_size_and_depth_are_bounded() -> None:
    doc = _fastapi_document()
    doc["x-padding"] = list(range(60_000))
    assert "more than 50,000 values" in _problems(doc)
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(100):
        deep = {"not": deep}
    doc = _fastapi_document()
    doc["components"]["schemas"]["Deep"] = deep
    assert "deeper than 64 levels" in _problems(doc)
    assert "larger than" in vet_openapi_text("x" * 3_000_000).message()


def test_a_python_cycle_ends_at_a_bound() -> None:
    looped: list[Any] = []
    looped.append(looped)  # not JSON, but the walk must still end
    assert "deeper than" in vet_openapi_document({"paths": {}, "x": looped}).message()
    row = list(range(1_000))
    shared = [
        row
    ] * 1_000  # one list a thousand times: a million values to walk, if nothing stops it
    assert "more than" in vet_openapi_document({"paths": {}, "x": shared}).message()


def test_text_that_is_not_strict_json_is_refused() -> None:
    for text in ('{"openapi": NaN}', "[" * 200_000 + "]" * 200_000, f"{{{MARKER}", "[1, 2]"):
        vetting = vet_openapi_text(text)
        assert not vetting.ok and MARKER not in vetting.message()
        assert "not valid JSON" in vetting.message() or "not a JSON object" in vetting.message()


@pytest.mark.parametrize(
    "keyword", ["$id", "id", "$schema", "$dynamicRef", "externalValue", "operationRef"]
)
def test_keywords_that_rebase_or_fetch_are_refused(keyword: str) -> None:
    doc = _fastapi_document()
    doc["components"]["schemas"]["Customer"][keyword] = f"http://127.0.0.1:9/{MARKER}"
    assert "give schemas an address" in _problems(doc)


def test_a_property_named_like_a_keyword_is_still_a_property() -> None:
    doc = _fastapi_document()
    doc["components"]["schemas"]["Customer"]["properties"]["id"] = {"type": "integer"}
    assert vet_openapi_document(doc).ok


def test_dereference_follows_a_chain_and_stops_on_a_loop() -> None:
    doc = {"a": {"$ref": "#/b"}, "b": {"$ref": "#/c"}, "c": {"type": "object"}, "d": {}}
    assert dereference(doc, {"$ref": "#/a"}) == {"type": "object"}
    assert dereference(doc, {"type": "string"}) == {"type": "string"}
    doc["d"] = {"$ref": "#/d"}
    with pytest.raises(RefError, match=f"more than {MAX_REF_HOPS}"):
        dereference(doc, doc["d"])
    with pytest.raises(RefError):
        dereference(doc, {"$ref": "file:///etc/passwd"})
