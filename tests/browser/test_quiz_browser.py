"""The flagship quiz taken end to end in a real browser, with JavaScript switched off."""

from __future__ import annotations

import re

import browser_helpers
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Fixtures from browser_helpers (a conftest.py here would shadow the top-level one).
live_server = browser_helpers.live_server
browser = browser_helpers.browser

QUIZ = "/quizzes/fastapi-for-ml-apis"


def test_learner_takes_the_flagship_quiz(live_server: str, browser) -> None:  # type: ignore[no-untyped-def]
    # No JavaScript at all: the quiz must work with plain HTML forms.
    context = browser.new_context(java_script_enabled=False, base_url=live_server)
    context.set_default_timeout(20_000)
    page = context.new_page()

    # Anonymous learners are sent to log in first; they sign up from there.
    page.goto(QUIZ)
    assert re.search(r"/login\?next=/quizzes/fastapi-for-ml-apis$", page.url)
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Name shown to instructors").fill("Ada")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(lambda url: "/signup" not in url)
    if not page.url.endswith(QUIZ):
        page.goto(QUIZ)
    page.get_by_role("button", name="Start the quiz").click()
    assert re.search(r"/quizzes/fastapi-for-ml-apis/attempts/\d+$", page.url)
    assert page.locator("fieldset.question").count() == 14

    # The flagship question, answered through its visible label.
    page.get_by_label(
        "Train offline, load one versioned artifact at start-up, and validate every payload "
        "against the feature list the pipeline was trained with"
    ).check()
    for option in ("customer-id", "offer-sent", "churned"):
        page.locator(f"#q-leaky-columns-{option}").check()
    page.locator("#q-nan-reaches-model-false").check()
    # Keyboard only: focus a radio button and select it with the space bar.
    page.locator("#q-split-strategy-temporal").focus()
    page.keyboard.press("Space")
    assert page.locator("#q-split-strategy-temporal").is_checked()
    page.get_by_label("What does this code print?").first.fill("4 3\nTrue")
    page.locator("#q-extra-forbid").fill('extra="forbid"')
    page.locator("#q-contract-status").fill("422")
    page.locator("#q-baseline-accuracy").fill("0.78")
    page.locator("#q-latency-median").fill("17")

    submit = page.get_by_role("button", name="Submit answers")
    submit.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/attempts/\d+$"))

    # 2 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 of 17 points
    score = page.locator("#score")
    assert "Score: 11 / 17" in score.inner_text()
    assert "not passed yet (70 % needed)" in score.inner_text()
    body = page.locator("main").inner_text()
    assert "Why:" in body and "The service should only serve" in body
    assert "Right: training and serving share only the artifact" in body
    assert page.locator(".mark.correct").count() == 9
    assert page.locator(".mark.unanswered").count() == 5
    leakage = page.locator('a[href="/lessons/fastapi-for-ml-apis#leakage"]').first
    assert leakage.is_visible()
    history = page.locator("table").last.inner_text()
    assert "#1" in history and "submitted" in history

    context.close()
