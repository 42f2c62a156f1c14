"""The submissions JSON API (routes/api/submissions.py): JSON and multipart submissions, the
refusals in their one error shape, CSRF for cookie callers, and a real grading end to end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import (
    HTML,
    SLUG,
    TINY,
    TINY_GRADERS,
    all_submissions,
    bearer_headers,
    course_settings,
    read_events,
    starter_zip,
)
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.models import Role
from servelab.settings import Settings
from support import csrf_from, login


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    return tiny_settings


def test_api_token_submission_with_json_files(client: TestClient, db: Session, make_user) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    files = {p.name: p.read_text() for p in (TINY / "starter").iterdir() if p.is_file()}
    r = client.post(
        "/api/v1/submissions",
        json={"exercise": SLUG, "files": files},
        headers=bearer_headers(db, learner),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "queued" and body["final"] is False and body["exercise"] == SLUG
    assert body["queued_ahead"] == 0
    assert r.headers["location"] == f"/api/v1/submissions/{body['id']}"
    [submission] = all_submissions(db)
    assert submission.id == body["id"] and submission.user_id == learner.id
    assert sorted(p.name for p in Path(submission.source_dir).iterdir()) == ["main.py", "train.py"]


def test_api_token_submission_with_multipart_zip(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    r = client.post(
        "/api/v1/submissions",
        data={"exercise": SLUG},
        files={"archive": ("s.zip", starter_zip(), "application/zip")},
        headers=bearer_headers(db, learner),
    )
    assert r.status_code == 201, r.text
    got = client.get(r.headers["location"], headers=bearer_headers(db, learner)).json()
    assert got["status"] == "queued" and got["result"] is None
    misnamed = client.post(
        "/api/v1/submissions",
        data={"exercise": SLUG},
        files={"file": ("s.zip", starter_zip(), "application/zip")},
        headers=bearer_headers(db, learner),
    )
    assert misnamed.status_code == 422
    assert misnamed.json()["detail"] == [
        {
            "loc": ["body", "archive"],
            "msg": "Send the .zip in the multipart form field `archive`.",
            "type": "missing",
        }
    ]


def test_api_refuses_anonymous_wrong_slug_and_bad_bodies(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    auth = bearer_headers(db, make_user(Role.LEARNER))
    files = {"train.py": "x = 1\n", "main.py": "app = None\n"}
    assert (
        client.post("/api/v1/submissions", json={"exercise": SLUG, "files": files}).status_code
        == 401
    )
    r = client.post("/api/v1/submissions", json={"exercise": "nope", "files": files}, headers=auth)
    assert r.status_code == 404 and "no exercise called 'nope'" in r.json()["detail"]
    r = client.post(
        "/api/v1/submissions",
        json={"exercise": SLUG, "files": {**files, "../../outside.py": "x"}},
        headers=auth,
    )
    assert r.status_code == 400 and "climbs out of the submission folder" in r.json()["detail"]
    r = client.post(
        "/api/v1/submissions", json={"exercise": SLUG, "files": {"main.py": "app=1"}}, headers=auth
    )
    assert r.status_code == 400 and "train.py is empty" in r.json()["detail"]
    r = client.post("/api/v1/submissions", json={"exercise": SLUG}, headers=auth)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "files"]]
    r = client.post(
        "/api/v1/submissions",
        content=b"{not json",
        headers={**auth, "content-type": "application/json"},
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/submissions", content=b"x", headers={**auth, "content-type": "text/plain"}
    )
    assert r.status_code == 415
    assert all_submissions(db) == []


def test_an_api_body_with_many_problems_lists_twenty_and_counts_the_rest(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    auth = bearer_headers(db, make_user(Role.LEARNER))
    files = {f"{'f' * 2000}{n}.py": n for n in range(300)}
    r = client.post("/api/v1/submissions", json={"exercise": SLUG, "files": files}, headers=auth)
    assert r.status_code == 422
    detail = r.json()["detail"]  # the shape of every 422: loc, msg, type
    assert len(detail) == 21 and len(r.content) < 8000
    assert all(e["loc"][:2] == ["body", "files"] and len(e["loc"][2]) <= 80 for e in detail[:20])
    assert [e["msg"] for e in detail[:20]] == ["Input should be a valid string"] * 20
    assert detail[-1] == {"loc": [], "msg": "… and 280 more problems", "type": "too_many_errors"}
    assert all_submissions(db) == []


def test_api_with_a_session_cookie_still_needs_the_csrf_header(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    body = {"exercise": SLUG, "files": {"train.py": "x = 1\n", "main.py": "app = 1\n"}}
    assert client.post("/api/v1/submissions", json=body).status_code == 403
    assert all_submissions(db) == []
    # The login's own token (what its pages carry), not the anonymous double-submit cookie.
    stale = client.cookies.get("servelab_csrf")
    assert (
        client.post("/api/v1/submissions", json=body, headers={"X-CSRF-Token": stale}).status_code
        == 403
    )
    token = csrf_from(client, "/account")
    r = client.post("/api/v1/submissions", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_end_to_end_through_the_api_with_the_embedded_worker_and_docker(tmp_path: Path) -> None:
    """The app's own pool, real Docker: the reference solution gets full marks, a broken
    one a clear failure with its log, and the browser pages show both."""
    from servelab.db.migrate import upgrade
    from servelab.web.app import create_app
    from support import require_docker

    settings = course_settings(tmp_path, embedded_worker=True, worker_count=1)
    require_docker(settings)
    upgrade(settings)
    app = create_app(settings)
    solution = {p.name: p.read_text() for p in (TINY_GRADERS / "solution").iterdir() if p.is_file()}
    broken = {**solution, "train.py": "import pandas as pd\nraise SystemExit('no model today')\n"}
    with TestClient(app) as client, Session(app.state.engine) as db:
        assert app.state.grading_pool is not None
        learner = accounts.create_user(
            db, email="e2e@example.org", password="correct horse battery"
        )
        auth = bearer_headers(db, learner)
        ids = []
        for files in (solution, broken):
            r = client.post(
                "/api/v1/submissions", json={"exercise": SLUG, "files": files}, headers=auth
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        deadline = time.monotonic() + 400
        views: dict[int, dict] = {}
        while time.monotonic() < deadline and len(views) < len(ids):
            for sid in ids:
                view = client.get(f"/api/v1/submissions/{sid}", headers=auth).json()
                if view["final"]:
                    views[sid] = view
            time.sleep(0.3)
        good, bad = views[ids[0]], views[ids[1]]
        assert good["status"] == "graded", good
        assert good["score"] == good["max_score"] > 0
        assert {"training", "starting", "testing", "graded"} <= {
            e["status"] for e in good["events"]
        }
        assert good["result"]["tests"] and all(
            t["instructor_output"] == "" for t in good["result"]["tests"]
        )
        assert bad["status"] == "failed" and bad["result"] is None
        assert "no model today" in bad["log_excerpt"]
        login(client, learner)
        page = client.get(f"/submissions/{ids[1]}", headers=HTML).text
        assert "no model today" in page and "could not be graded" in page
        page = client.get(f"/submissions/{ids[0]}", headers=HTML).text
        assert f"Score: {good['score']}" in page and "http-equiv" not in page
        import docker

        from servelab.grading.orphans import OWNER_LABEL
        from servelab.grading.processes import owner_token

        mine = docker.from_env().containers.list(
            all=True, filters={"label": f"{OWNER_LABEL}={owner_token()}"}
        )
        assert mine == []  # whatever happened, no container this process created is left
        assert read_events(client, f"/submissions/{ids[0]}/events")[-1] == (
            "done",
            {"status": "graded", "page": f"/submissions/{ids[0]}"},
        )
