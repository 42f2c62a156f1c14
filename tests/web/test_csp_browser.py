"""The Content-Security-Policy in a real browser: no page breaks a rule of it, and the live
progress page still updates itself when the server refuses its event stream (429)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from grading_web_helpers import sample_result, store_submission
from sqlmodel import Session

from live_server import LiveServer, live_server
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models import Role
from servelab.db.models.grading import SubmissionStatus
from servelab.settings import Settings
from support import PASSWORD, require_service

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SLUG = "fastapi-for-ml-apis"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, dict[str, int], str]]:
    """A real server with a learner (a graded and a running submission) and an instructor."""
    tmp = tmp_path_factory.mktemp("csp")
    settings = Settings(environment="test", var_dir=tmp / "var")
    env = {"SERVELAB_MAX_EVENT_STREAMS_PER_USER": "1"}
    with live_server(settings, tmp, **env) as live:
        engine = make_engine(settings)
        with Session(engine) as db:
            learner = accounts.create_user(db, email="learner@example.org", password=PASSWORD)
            accounts.create_user(
                db, email="prof@example.org", password=PASSWORD, role=Role.INSTRUCTOR
            )
            graded = store_submission(db, learner, result=sample_result(), slug=SLUG)
            running = store_submission(db, learner, status=SubmissionStatus.TRAINING, slug=SLUG)
            db.commit()
            ids = {"graded": graded.id or 0, "running": running.id or 0}
            token = accounts.create_api_token(db, user=learner)
        engine.dispose()
        yield live, ids, token


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    require_service(Path(CHROMIUM).exists(), "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _logged_in_page(browser, base_url: str, email: str):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda e: violations.append(str(e)))
    page.goto(base_url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base_url + "/")
    return page, violations


def test_no_page_breaks_the_policy(browser, server) -> None:  # type: ignore[no-untyped-def]
    live, ids, _token = server
    page, violations = _logged_in_page(browser, live.base_url, "learner@example.org")
    for path in (
        "/",
        f"/lessons/{SLUG}",
        f"/exercises/{SLUG}",
        f"/quizzes/{SLUG}",
        "/account",
        f"/submissions/{ids['graded']}",
        f"/submissions/{ids['running']}",  # runs submission-progress.js and its EventSource
    ):
        page.goto(live.base_url + path)
        page.wait_for_timeout(500)  # let scripts and the event stream run
    page.context.close()
    teacher, teacher_violations = _logged_in_page(browser, live.base_url, "prof@example.org")
    for path in (
        "/instructor",
        f"/instructor/quizzes/{SLUG}",
        f"/instructor/submissions/{ids['graded']}",
    ):
        teacher.goto(live.base_url + path)
    teacher.context.close()
    assert violations == [] and teacher_violations == []


def test_a_refused_stream_falls_back_to_refreshing(browser, server) -> None:  # type: ignore[no-untyped-def]
    live, ids, token = server
    page, violations = _logged_in_page(browser, live.base_url, "learner@example.org")
    loads: list[float] = []
    url = f"{live.base_url}/submissions/{ids['running']}"
    page.on("load", lambda: loads.append(time.monotonic()))
    # Another tab of the same learner holds the one stream they may have open.
    with live.client(timeout=30, headers={"authorization": f"Bearer {token}"}) as other:
        with other.stream("GET", f"/submissions/{ids['running']}/events") as held:
            reader = held.iter_text()
            assert held.status_code == 200 and next(reader).startswith("retry:")
            page.goto(url)
            deadline = time.monotonic() + 15
            while len(loads) < 2 and time.monotonic() < deadline:
                page.wait_for_timeout(250)
    page.context.close()
    print(f"\npage loads while the stream was refused: {len(loads)}")
    assert len(loads) >= 2, "the page did not refresh itself after its stream was refused"
    assert violations == []
