"""Security headers on every response, pages without inline script or style, /docs under
its own policy, no URL built from the Host header, and HTTPS required in production."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import HTML, sample_result, store_submission
from pydantic import ValidationError
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.models import Role, User
from servelab.db.models.grading import SubmissionStatus
from servelab.settings import Settings
from servelab.web.security_headers import CONTENT_SECURITY_POLICY
from support import login

SLUG = "fastapi-for-ml-apis"
FORGED_HOST = "evil.example"


def _assert_headers(r, *, static: bool = False) -> None:  # type: ignore[no-untyped-def]
    where = f"{r.request.method} {r.request.url.path} ({r.status_code})"
    assert r.headers["x-content-type-options"] == "nosniff", where
    assert r.headers["x-frame-options"] == "DENY", where
    assert r.headers["referrer-policy"] == "same-origin", where
    if static:
        assert "no-store" not in r.headers.get("cache-control", ""), where
    else:
        assert r.headers["cache-control"] == "no-store", where


def test_the_policy_is_strict() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def _instructor_data(db: Session, client: TestClient, learner: User) -> int:
    """A graded submission and a submitted quiz attempt, so every page has content."""
    submission = store_submission(
        db, learner, status=SubmissionStatus.GRADED, result=sample_result(), slug=SLUG
    )
    running = store_submission(db, learner, status=SubmissionStatus.TRAINING, slug=SLUG)
    db.commit()
    token = accounts.create_api_token(db, user=learner)
    bearer = {"authorization": f"Bearer {token}"}
    attempt = client.post(f"/api/v1/quizzes/{SLUG}/attempts", headers=bearer).json()
    submitted = client.post(
        f"/api/v1/quizzes/{SLUG}/attempts/{attempt['id']}/submit",
        headers=bearer,
        json={"answers": {}},
    )
    assert submitted.status_code == 200
    assert submission.id is not None and running.id is not None
    return submission.id


def test_every_page_carries_the_headers_and_no_inline_script_or_style(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner, instructor = make_user(Role.LEARNER), make_user(Role.INSTRUCTOR)
    submission_id = _instructor_data(db, TestClient(client.app), learner)
    anonymous_pages = ["/", f"/lessons/{SLUG}", f"/exercises/{SLUG}", "/login", "/signup"]
    learner_pages = [
        "/account",
        f"/quizzes/{SLUG}",
        "/submissions",
        f"/submissions/{submission_id}",
        f"/submissions/{submission_id + 1}",  # still training: the live-progress page
    ]
    instructor_pages = [
        "/instructor",
        f"/instructor/exercises/{SLUG}/submissions",
        f"/instructor/submissions/{submission_id}",
        "/instructor/quizzes",
        f"/instructor/quizzes/{SLUG}",  # the SVG histogram
        "/instructor/users",
    ]
    pages: list[tuple[str, TestClient]] = [(p, client) for p in anonymous_pages]
    learner_client = TestClient(client.app)
    login(learner_client, learner)
    pages += [(p, learner_client) for p in learner_pages]
    instructor_client = TestClient(client.app)
    login(instructor_client, instructor)
    pages += [(p, instructor_client) for p in instructor_pages]
    pages.append(("/no/such/page", client))  # the error page

    checked = 0
    for path, who in pages:
        r = who.get(path, headers=HTML)
        assert r.status_code in (200, 404), f"{path}: {r.status_code}"
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        _assert_headers(r)
        html = r.text
        for script in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in script, f"{path}: inline script {script}"
        assert not re.findall(r"<script\b[^>]*>\s*[^<\s]", html), f"{path}: script with a body"
        assert not re.search(r"\sstyle\s*=", html), f"{path}: a style attribute"
        assert "<style" not in html, f"{path}: a <style> element"
        assert not re.search(r"\son[a-z]+\s*=", html), f"{path}: an inline event handler"
        assert "javascript:" not in html, f"{path}: a javascript: URL"
        checked += 1
    assert checked == len(pages) == 17
    assert "<svg" in instructor_client.get(f"/instructor/quizzes/{SLUG}").text


def test_api_answers_static_files_and_errors_carry_the_headers(
    client: TestClient, make_user, db: Session
) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    token = accounts.create_api_token(db, user=user)
    bearer = {"authorization": f"Bearer {token}"}
    for r in (
        client.get("/api/v1/me", headers=bearer),
        client.get("/api/v1/submissions", headers=bearer),
        client.get(f"/api/v1/quizzes/{SLUG}", headers=bearer),
        client.get("/api/v1/me"),  # 401
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.post("/login", data={}),  # 403, CSRF
    ):
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        _assert_headers(r)
    css = client.get("/static/servelab.css")
    assert css.status_code == 200
    _assert_headers(css, static=True)
    assert css.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_a_500_carries_the_headers_too(migrated: Settings) -> None:
    from servelab.web.app import create_app

    app = create_app(migrated)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom", headers=HTML)
        assert r.status_code == 500 and "Something went wrong" in r.text
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        _assert_headers(r)


def test_the_docs_page_has_its_own_policy_that_allows_only_its_script(
    client: TestClient,
) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    policy = dict(d.split(" ", 1) for d in r.headers["content-security-policy"].split("; "))
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    sources = policy["script-src"].split()
    assert f"'sha256-{digest}'" in sources
    assert "'unsafe-inline'" not in sources and "'self'" not in sources
    external = re.findall(r'<script src="([^"]+)"', r.text)
    assert external and all(url in sources for url in external)
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["connect-src"] == "'self'"  # "Try it out" calls ServeLab only
    _assert_headers(r)
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_no_page_or_redirect_is_built_from_a_forged_host_header(
    client: TestClient, make_user
) -> None:  # type: ignore[no-untyped-def]
    forged = {"host": FORGED_HOST, **HTML}
    for path in ("/", f"/lessons/{SLUG}", f"/exercises/{SLUG}", "/login", "/nope", "/docs"):
        r = client.get(path, headers=forged)
        assert FORGED_HOST not in r.text, path
        assert all(FORGED_HOST not in value for value in r.headers.values()), path
        assert 'href="/static/servelab.css"' in r.text or path == "/docs"
    login(client, make_user())
    for path in ("/account", f"/quizzes/{SLUG}", "/submissions"):
        r = client.get(path, headers=forged)
        assert r.status_code == 200 and FORGED_HOST not in r.text, path
    # Starlette's trailing-slash redirect builds an absolute URL from Host: made relative.
    r = client.get("/submissions/", headers=forged, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/submissions"
    r = client.get("/account", headers={"host": FORGED_HOST}, follow_redirects=False)
    assert FORGED_HOST not in r.text


def test_hsts_behind_https(migrated: Settings) -> None:
    from servelab.web.app import create_app

    app = create_app(migrated.model_copy(update={"https": True}))
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/").headers["strict-transport-security"] == "max-age=31536000"
    with TestClient(create_app(migrated)) as client:
        assert "strict-transport-security" not in client.get("/").headers


def test_production_requires_https() -> None:
    with pytest.raises(ValidationError, match="SERVELAB_HTTPS must be true in production"):
        Settings(environment="production", secret_key="x" * 40, https=False)
    assert Settings(environment="production", secret_key="x" * 40, https=True).https
