"""The lesson's Run button in a real browser (Debian's Chromium) against the real sandbox: with
JavaScript the result fills in place under the strict CSP (no console errors), at phone width
without horizontal scroll; without JavaScript the plain form brings the page back with it."""

from __future__ import annotations

import browser_helpers
import pytest

from servelab.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

live_server = browser_helpers.live_server
browser = browser_helpers.browser

LESSON = "/lessons/fastapi-for-ml-apis"


def test_run_fills_the_result_in_place_with_javascript(  # type: ignore[no-untyped-def]
    live_server: str, browser, migrated: Settings, runtime_image: str
) -> None:
    browser_helpers.add_user(migrated, "ada@example.org")
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    context.set_default_timeout(60_000)
    page = browser_helpers.log_in(context, "ada@example.org")
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(LESSON)
    page.get_by_role("button", name="Run", exact=True).click()
    status = page.locator("#example-run-result .example-run-status.is-match")
    status.wait_for()
    assert page.url.endswith(LESSON)  # filled in place: no navigation
    assert "matches" in status.inner_text()
    assert "slice islands" in page.locator(".example-run-column").nth(1).inner_text()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the phone screen"
    assert problems == []
    browser_helpers.save_screenshot(page.locator("#example-run"), "example-run-phone")
    context.close()


def test_run_works_as_a_plain_form_without_javascript(  # type: ignore[no-untyped-def]
    live_server: str, browser, migrated: Settings, runtime_image: str
) -> None:
    browser_helpers.add_user(migrated, "bob@example.org")
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(60_000)
    page = browser_helpers.log_in(context, "bob@example.org")
    page.goto(LESSON)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(lambda url: url.endswith("/example/run#example-run"))
    assert "matches" in page.locator(".example-run-status").inner_text()
    assert page.locator("#panel-output").is_visible()  # the Output tab is the one shown
    browser_helpers.save_screenshot(page.locator("#example-run"), "example-run-desktop")
    context.close()
