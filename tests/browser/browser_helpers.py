"""A live ServeLab server (uvicorn in a thread) and a headless Debian Chromium page.

Test modules import these fixtures: a conftest.py in this folder would shadow the
top-level `conftest` module that other test folders import helpers from.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import Session

from live_server import free_port
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models import Role
from servelab.settings import PROJECT_ROOT, Settings
from support import PASSWORD, require_service

CHROMIUM = Path("/usr/bin/chromium")
# Test artefacts: every screenshot of the browser tests, <page>-<desktop|phone>.png.
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture
def live_server(migrated: Settings) -> Iterator[str]:
    """The real app on a free loopback port; yields its base URL and stops it afterwards."""
    from servelab.web.app import create_app

    app = create_app(migrated)
    port = free_port()
    # ws="none": no websocket stack is needed, and its import emits deprecation warnings.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="servelab-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live ServeLab server did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _playwright_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def chromium():  # type: ignore[no-untyped-def]
    """Headless Chromium from Debian's package (CI=true makes a missing one a failure)."""
    require_service(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    require_service(_playwright_available(), "the Playwright Python package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    """A Chromium of the test's own."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def module_browser():  # type: ignore[no-untyped-def]
    """One Chromium for every test of a module (each opens its own context)."""
    with chromium() as launched:
        yield launched


def save_screenshot(target, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A Playwright page (all of it, not just the viewport) or one element (a Locator) as
    SCREENSHOTS/<name>.png, kept as a test artefact; returns its path."""
    from playwright.sync_api import Locator

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if isinstance(target, Locator):
        target.screenshot(path=path)
    else:
        target.screenshot(path=path, full_page=True)
    return path


def add_user(settings: Settings, email: str, *, role: Role = Role.LEARNER) -> None:
    """An account (password support.PASSWORD) in the database of settings."""
    engine = make_engine(settings)
    with Session(engine) as db:
        accounts.create_user(db, email=email, password=PASSWORD, role=role)
    engine.dispose()


def log_in(context, email: str):  # type: ignore[no-untyped-def]
    """A new page of context, logged in as email through the login form."""
    page = context.new_page()
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return page
