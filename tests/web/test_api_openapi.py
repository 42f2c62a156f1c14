"""/openapi.json documents the real shapes of the JSON API: a schema for every /api/v1
response, one error shape for every 4xx (web/api_schemas.py), no old /api/ paths."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

ERROR_SHAPES = {"#/components/schemas/ErrorBody", "#/components/schemas/ValidationErrorBody"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def _schema(response: dict[str, Any]) -> dict[str, Any]:
    return response.get("content", {}).get("application/json", {}).get("schema", {})


def test_every_api_response_has_a_schema_and_every_error_one_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    api = [(p, m, op) for p, m, op in _operations(spec) if p.startswith("/api/")]
    assert {p for p, _, _ in api} >= {
        "/api/v1/me",
        "/api/v1/submissions",
        "/api/v1/submissions/{submission_id}",
        "/api/v1/quizzes/{slug}",
        "/api/v1/quizzes/{slug}/attempts/{attempt_id}/result",
    }
    assert all(p.startswith("/api/v1/") for p, _, _ in api)
    for path, method, operation in api:
        responses = operation["responses"]
        assert any(code.startswith("2") for code in responses), (path, method)
        for code, response in responses.items():
            schema = _schema(response)
            assert schema, f"{method.upper()} {path} {code} has no schema"
            if code.startswith("2"):
                assert schema != {} and ("$ref" in schema or schema.get("type") == "array")
            else:
                assert schema.get("$ref") in ERROR_SHAPES, (path, method, code, schema)
        assert "401" in responses and "422" in responses, (path, method)
    # FastAPI's own 422 shape would contradict ours: it must not appear.
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["ErrorBody"]
    assert error["properties"]["detail"]["type"] == "string"


def test_errors_sent_match_the_documented_shapes(client: TestClient, bearer, learner) -> None:  # type: ignore[no-untyped-def]
    auth = bearer(learner)
    assert client.get("/api/v1/me").json().keys() == {"detail"}  # 401
    missing = client.get("/api/v1/submissions/2147483647", headers=auth)
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    bad = client.post("/api/v1/submissions", json={"files": {}}, headers=auth)
    assert bad.status_code == 422
    assert all(set(e) == {"loc", "msg", "type"} for e in bad.json()["detail"])
    me = client.get("/api/v1/me", headers=auth).json()
    assert set(me) == {"id", "email", "display_name", "role"}
    assert client.get("/api/submissions", headers=auth).status_code == 404  # old paths are gone
