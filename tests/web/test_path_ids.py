"""Every id in a URL that names no row gets a 404, never a 500 (web/deps.py `RowId`):
out of the integer range of the database's keys, negative, zero or not a number, on
SQLite and on PostgreSQL (whose `integer` keys overflow at 2**31)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.migrate import upgrade
from servelab.db.models import Role
from servelab.settings import Settings
from servelab.web.routes import ALL_ROUTERS
from support import PASSWORD, csrf_from, login

SLUG = "fastapi-for-ml-apis"

# Every route with an id in its path, as (method, path template, who asks).
ID_ROUTES = [
    ("GET", "/submissions/{submission_id}", "learner"),
    ("GET", "/submissions/{submission_id}/events", "learner"),
    ("GET", "/api/v1/submissions/{submission_id}", "learner"),
    ("GET", "/quizzes/{slug}/attempts/{attempt_id}", "learner"),
    ("POST", "/quizzes/{slug}/attempts/{attempt_id}", "learner"),
    ("GET", "/api/v1/quizzes/{slug}/attempts/{attempt_id}", "learner"),
    ("POST", "/api/v1/quizzes/{slug}/attempts/{attempt_id}/submit", "learner"),
    ("GET", "/api/v1/quizzes/{slug}/attempts/{attempt_id}/result", "learner"),
    ("POST", "/account/tokens/{token_id}/revoke", "learner"),
    ("GET", "/instructor/submissions/{submission_id}", "instructor"),
    ("POST", "/instructor/submissions/{submission_id}/regrade", "instructor"),
    ("POST", "/instructor/exercises/{slug}/extensions/{extension_id}/revoke", "instructor"),
]
BAD_IDS = ["99999999999999999999", "2147483648", "0", "-1", "abc"]
MISSING_BUT_VALID = "2147483647"


def test_every_route_with_an_id_is_listed_here() -> None:
    """A new route with an id must be added to ID_ROUTES (and so be tested)."""
    declared = {
        (method, route.path)
        for router in ALL_ROUTERS  # every router of the app; none includes another
        for route in router.routes
        if re.search(r"\{\w+_id\}", route.path)
        for method in route.methods - {"HEAD"}
    }
    assert declared == {(method, path) for method, path, _ in ID_ROUTES}


def _check_all(client: TestClient, tokens: dict[str, str]) -> list[tuple[str, int]]:
    seen = []
    for method, template, who in ID_ROUTES:
        for value in [*BAD_IDS, MISSING_BUT_VALID]:
            path = re.sub(r"\{\w+_id\}", value, template.replace("{slug}", SLUG))
            headers = {"x-csrf-token": tokens[who], "cookie": tokens[who + "_cookie"]}
            if method == "GET":
                r = client.get(path, headers=headers)
            else:
                r = client.post(path, headers=headers, json={"answers": {}})
            seen.append((f"{method} {path}", r.status_code))
            assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:200]}"
            assert r.headers["content-type"].startswith("application/json")
            if value in BAD_IDS:
                what = template.rsplit("{", 1)[1].split("_id}")[0]
                assert r.json() == {"detail": f"There is no {what} {value}."}, path
    return seen


def _sessions(client: TestClient, db: Session) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for who, role in (("learner", Role.LEARNER), ("instructor", Role.INSTRUCTOR)):
        user = accounts.create_user(db, email=f"{who}@example.org", password=PASSWORD, role=role)
        client.cookies.clear()
        login(client, user)
        tokens[who] = csrf_from(client, "/account")
        tokens[who + "_cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    client.cookies.clear()
    return tokens


def test_ids_out_of_range_are_404_on_sqlite(client: TestClient, db: Session) -> None:
    seen = _check_all(client, _sessions(client, db))
    assert len(seen) == len(ID_ROUTES) * (len(BAD_IDS) + 1)


@pytest.mark.postgres
def test_ids_out_of_range_are_404_on_postgresql(tmp_path: Path, postgres_db: str) -> None:
    from servelab.web.app import create_app

    settings = Settings(environment="test", var_dir=tmp_path / "var", database_url=postgres_db)
    upgrade(settings)
    app = create_app(settings)
    with TestClient(app) as client, Session(app.state.engine) as db:
        seen = _check_all(client, _sessions(client, db))
    assert len(seen) == len(ID_ROUTES) * (len(BAD_IDS) + 1)


def test_the_html_404_names_what_is_missing(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user())
    r = client.get("/submissions/99999999999999999999", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.template.name == "error.html"  # type: ignore[attr-defined]
    assert "There is no submission 99999999999999999999." in r.text
