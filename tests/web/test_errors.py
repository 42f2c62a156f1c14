"""Error responses: HTML pages for browsers, JSON for clients, never a traceback or a NaN crash."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from grading_web_helpers import HTML
from pydantic import BaseModel, Field


class _Reading(BaseModel):
    value: float = Field(allow_inf_nan=False)


def _add_probe_routes(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    def reading(body: _Reading) -> dict[str, float]:
        return {"value": body.value}

    app.add_api_route("/api/_probe/boom", boom)
    app.add_api_route("/_probe/boom", boom)
    app.add_api_route("/api/_probe/reading", reading, methods=["POST"])


def test_unexpected_error_is_a_500_page_without_traceback(app: FastAPI) -> None:
    _add_probe_routes(app)
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/_probe/boom", headers=HTML)
    assert page.status_code == 500
    assert "Something went wrong" in page.text
    assert "secret internal detail" not in page.text and "Traceback" not in page.text
    api = client.get("/api/_probe/boom")
    assert api.status_code == 500 and "secret internal detail" not in api.text


def test_validation_error_with_nan_input_is_a_json_422(app: FastAPI) -> None:
    _add_probe_routes(app)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post(
        "/api/_probe/reading",
        content='{"value": NaN}',  # FastAPI's default handler would echo NaN and crash
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[0]["loc"] == ["body", "value"] and "input" not in detail[0]


def test_404_page_shows_login_state(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    from support import login

    user = make_user()
    login(client, user)
    r = client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and r.template.name == "error.html"  # type: ignore[attr-defined]
    assert f"Log out {user.display_name}" in r.text


class _Many(BaseModel):
    values: list[int]


def test_validation_errors_list_at_most_twenty_and_count_the_rest(app: FastAPI) -> None:
    def many(body: _Many) -> int:
        return len(body.values)

    app.add_api_route("/api/_probe/many", many, methods=["POST"])
    app.add_api_route("/_probe/many", many, methods=["POST"])
    client = TestClient(app, raise_server_exceptions=False)
    body = {"values": ["x" * 1_000] * 500}  # under the 1 MiB body limit
    r = client.post("/api/_probe/many", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert len(detail) == 21 and detail[0]["loc"] == ["body", "values", "0"]
    assert detail[-1] == {"loc": [], "msg": "… and 480 more problems", "type": "too_many_errors"}
    assert len(r.content) < 10_000
    page = client.post("/_probe/many", json=body, headers=HTML)
    assert page.status_code == 422
    assert "values.19:" in page.text and "values.20:" not in page.text
    assert "… and 480 more problems" in page.text
