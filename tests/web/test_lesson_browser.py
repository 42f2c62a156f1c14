"""The lesson page in a real browser with JavaScript off: tabs, folded answers, phone width."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from live_server import live_server
from servelab.settings import Settings
from support import require_service

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LESSON = "/lessons/fastapi-for-ml-apis"


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`servelab serve` on a free port with its own database, as `make run` starts it."""
    tmp = tmp_path_factory.mktemp("live")
    with live_server(Settings(environment="development", var_dir=tmp / "var"), tmp) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    require_service(Path(CHROMIUM).exists(), "Chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def test_tabs_and_answers_work_without_javascript(browser, live_url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(java_script_enabled=False)
    page.goto(live_url + LESSON)
    code, output = page.locator("#panel-code"), page.locator("#panel-output")
    assert code.is_visible() and not output.is_visible()
    page.click("label[for=tab-output]")
    assert output.is_visible() and not code.is_visible()
    assert page.locator("#expected-output").is_visible()

    # A line reference in the explanation brings the code back into view.
    page.locator("a.line-ref").first.click()
    assert code.is_visible()

    answer = page.locator("#interview-q1 .answer")
    assert not answer.is_visible()
    page.click("#interview-q1 summary")
    assert answer.is_visible()
    page.close()


def test_lesson_fits_a_phone_screen(browser, live_url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page.goto(live_url + LESSON)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the phone screen"
    assert page.locator("nav.toc").is_visible()
    page.close()


def test_forms_have_labels(browser, live_url: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(java_script_enabled=False)
    for path in ("/login", "/signup"):
        page.goto(live_url + path)
        inputs = page.locator("main input:not([type=hidden])")
        assert inputs.count() >= 2
        for i in range(inputs.count()):
            input_id = inputs.nth(i).get_attribute("id")
            assert input_id and page.locator(f"label[for={input_id}]").count() == 1, (
                path,
                input_id,
            )
    page.close()
