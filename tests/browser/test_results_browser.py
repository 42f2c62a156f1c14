"""The result page and the exercise page's score history on a 390-pixel phone, in Debian's
Chromium: no horizontal page scroll, the failed check above the folded passed ones, the slice
chart drawn, no Content-Security-Policy violation. Screenshots go with the editor's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import browser_helpers
import pytest
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading.results import CheckStatus, FeedbackNote, ResultDocument, Table, TestResult
from servelab.settings import Settings
from support import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

live_server = browser_helpers.live_server
browser = browser_helpers.browser

SLUG = "fastapi-for-ml-apis"
EMAIL = "phone@example.org"
REGIONS = ("north", "south", "east", "west", "islands")


def _result(slices_fail: bool) -> ResultDocument:
    rows = [
        {
            "region": region,
            "customers": 400 - 70 * i,
            "roc_auc": 0.55 if slices_fail and region == "islands" else 0.8 - 0.02 * i,
            "interval_low": 0.5,
            "interval_high": 0.9,
            "floor": 0.6,
            "ok": True,
        }
        for i, region in enumerate(REGIONS)
    ]
    slices = TestResult(
        name="ROC AUC per region is above the floor, allowing for sampling error",
        max_score=7,
        score=0 if slices_fail else 7,
        status=CheckStatus.FAILED if slices_fail else CheckStatus.PASSED,
        category="slices",
        feedback=[
            FeedbackNote(
                message="For region islands, the interval is below 0.60.", section="slices"
            )
        ],
        tables=[Table(name="Held-out ROC AUC per region", rows=rows)],
    )
    contract = [
        TestResult(
            name=f"Contract check number {i} with a fairly long name",
            max_score=3,
            score=3,
            status=CheckStatus.PASSED,
            category="contract",
        )
        for i in range(8)
    ]
    return ResultDocument(tests=[slices, *contract]).with_totals(
        {"slices": "Slices", "contract": "API contract"}
    )


def _store(settings: Settings) -> int:
    engine = make_engine(settings)
    with Session(engine) as db:
        user = accounts.create_user(db, email=EMAIL, password=PASSWORD)
        start = datetime.now(UTC) - timedelta(hours=1)
        ids = []
        for i, failing in enumerate((False, True)):
            doc = _result(failing)
            at = start + timedelta(minutes=i)
            row = Submission(
                user_id=user.id,  # type: ignore[arg-type]
                exercise_slug=SLUG,
                status=SubmissionStatus.GRADED,
                source_dir="/nonexistent",
                score=doc.score,
                max_score=doc.max_score,
                result_json=doc.model_dump_json(),
                learner_message="Graded: each check below says what it found.",
                requested_at=at,
                queued_at=at,
                finished_at=at,
                graded_at=at,
                updated_at=at,
                attempts=1,
            )
            db.add(row)
            db.commit()
            ids.append(row.id)
    engine.dispose()
    return ids[-1]  # type: ignore[return-value]


def test_the_result_page_reads_on_a_phone(live_server: str, browser, migrated: Settings) -> None:  # type: ignore[no-untyped-def]
    latest = _store(migrated)
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    problems: list[str] = []
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            problems.append(f"{m.text} {m.location.get('url')}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.goto("/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"/submissions/{latest}")
    assert page.locator("#failed-checks li").count() == 1
    assert not page.locator("#passed-checks").evaluate("d => d.open")
    failed_top = page.locator("#failed-checks").bounding_box()
    passed_top = page.locator("#passed-checks").bounding_box()
    assert failed_top and passed_top and failed_top["y"] < passed_top["y"]
    assert page.locator("#since-last li").all_inner_texts() == [
        "ROC AUC per region is above the floor, allowing for sampling error"
    ]
    chart = page.locator("#tables svg[role=img]").first
    box = chart.bounding_box()
    assert box and 0 < box["width"] <= 390
    assert page.locator("#tables svg line.chart-reference").count() == 1  # the floor
    browser_helpers.save_screenshot(page, "result-phone")
    result_width = page.evaluate("() => document.documentElement.scrollWidth")

    page.goto(f"/exercises/{SLUG}")
    assert page.locator("#score-history circle.chart-dot").count() == 2
    browser_helpers.save_screenshot(page.locator("#score-history"), "score-history-phone")
    exercise_width = page.evaluate("() => document.documentElement.scrollWidth")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/submissions/{latest}")
    browser_helpers.save_screenshot(page, "result-desktop")
    print(
        f"\nwidth at 390 px: result page {result_width}, exercise page {exercise_width}; {problems}"
    )
    assert result_width <= 390 and exercise_width <= 390
    assert [p for p in problems if "/favicon.ico" not in p] == []  # no favicon: not this page's
    context.close()
