"""A live ServeLab server (uvicorn in a thread) and a headless Debian Chromium page.

Test modules import these fixtures: a conftest.py in this folder would shadow the
top-level `conftest` module that other test folders import helpers from.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from live_server import free_port
from servelab.settings import Settings
from support import require_service

CHROMIUM = Path("/usr/bin/chromium")
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


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    """Headless Chromium from Debian's package (CI=true makes a missing one a failure)."""
    require_service(CHROMIUM.exists(), f"Chromium at {CHROMIUM}")
    require_service(_playwright_available(), "the Playwright Python package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
