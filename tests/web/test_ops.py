"""Operations endpoints and the per-request log line."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from servelab.settings import Settings


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_checks_database_migrations_and_content(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
    assert body["checks"]["content"].startswith("ok (")


def test_readyz_is_503_when_the_schema_is_missing(settings: Settings) -> None:
    from servelab.web.app import create_app

    settings.var_dir.mkdir(parents=True)
    with TestClient(create_app(settings)) as client:  # database never migrated
        r = client.get("/readyz")
    assert r.status_code == 503
    assert "servelab db upgrade" in r.json()["checks"]["migrations"]


@pytest.mark.redis
def test_readyz_checks_the_shared_limits_store_when_there_is_one(
    migrated: Settings, redis_db: str
) -> None:
    from live_server import free_port
    from servelab.web.app import create_app

    dead = migrated.model_copy(
        update={"limits_backend": "redis", "redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    )
    live = migrated.model_copy(update={"limits_backend": "redis", "redis_url": redis_db})
    with TestClient(create_app(live)) as client:
        ready = client.get("/readyz")
    with TestClient(create_app(dead)) as client:
        unready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["limits_store"] == "ok"
    assert unready.status_code == 503
    assert unready.json()["checks"]["limits_store"].startswith("unreachable")


def test_metrics_in_prometheus_text(client: TestClient) -> None:
    client.get("/healthz")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'servelab_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text


def test_one_structured_log_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="servelab.http"):
        client.get("/lessons/fastapi-for-ml-apis")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "servelab.http"]
    assert len(lines) == 1
    assert lines[0]["route"] == "/lessons/{slug}" and lines[0]["status"] == 200


def test_validation_errors_are_json_safe(client: TestClient) -> None:
    r = client.get("/account/tokens/not-a-number/revoke")  # GET on a POST route: 405, JSON
    assert r.status_code == 405
    r = client.post("/api/v1/me", headers={"accept": "application/json"})
    assert r.status_code == 405 and "detail" in r.json()
