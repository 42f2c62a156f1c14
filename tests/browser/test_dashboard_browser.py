"""The instructor's exercise dashboard in a real browser (Debian's Chromium): filter the
table, regrade a selection and watch the batch's progress until the page shows the score
changes (dashboard.js polling, no CSP violation); it fits a 1280-px screen and a 390-px phone.
Without JavaScript the same page refreshes itself while the batch runs."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import browser_helpers
import pytest
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models import Role
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import CheckStatus, ResultDocument, TestResult
from servelab.settings import Settings
from support import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Fixtures from browser_helpers (a conftest.py here would shadow the top-level one).
live_server = browser_helpers.live_server
browser = browser_helpers.browser

SLUG = "fastapi-for-ml-apis"
DASHBOARD = f"/instructor/exercises/{SLUG}/submissions"


def _document(points: float) -> ResultDocument:
    checks = [
        TestResult(name="health answers", score=points, max_score=10, status=CheckStatus.PASSED),
        TestResult(name="rejects NaN", score=0, max_score=10, status=CheckStatus.FAILED),
    ]
    return ResultDocument(tests=checks).with_totals()


def _seed(settings: Settings) -> list[int]:
    """An instructor, two learners and three graded submissions; returns Ada's two ids."""
    engine = make_engine(settings)
    ids = []
    with Session(engine) as db:
        accounts.create_user(db, email="teach@example.org", password=PASSWORD, role=Role.INSTRUCTOR)
        for email, points in (
            ("ada@example.org", 4),
            ("ada@example.org", 6),
            ("bob@example.org", 8),
        ):
            learner = accounts.get_user_by_email(db, email=email) or accounts.create_user(
                db, email=email, password=PASSWORD
            )
            doc = _document(points)
            row = Submission(
                user_id=learner.id,  # type: ignore[arg-type]
                exercise_slug=SLUG,
                status=SubmissionStatus.GRADED,
                source_dir="/nonexistent",
                score=doc.score,
                max_score=doc.max_score,
                result_json=doc.model_dump_json(),
                phase_seconds_json='{"train": 3.5, "startup": 1.0, "test": 6.0}',
                finished_at=datetime.now(UTC),
                graded_at=datetime.now(UTC),
            )
            db.add(row)
            db.commit()
            if email.startswith("ada"):
                ids.append(row.id)
    engine.dispose()
    return ids  # type: ignore[return-value]


def _grade(settings: Settings, submission_id: int, points: float) -> None:
    """What a worker does with a queued submission: claim it, then store its outcome."""
    engine = make_engine(settings)
    with Session(engine) as db:
        claim = queue.claim_submission(
            db,
            submission_id=submission_id,
            worker_id="browser-test",
            lease_seconds=60,
            deadline_seconds=lambda _slug: 600,
        )
        assert claim is not None
        outcome = GradeOutcome(status=SubmissionStatus.GRADED, result=_document(points))
        assert queue.complete(db, claim, outcome, finished_at=datetime.now(UTC))
    engine.dispose()


def _page_width(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def test_instructor_filters_regrades_a_selection_and_sees_the_changes(
    live_server: str, browser, migrated: Settings
) -> None:  # type: ignore[no-untyped-def]
    ada_ids = _seed(migrated)
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = browser_helpers.log_in(context, "teach@example.org")
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(DASHBOARD)
    assert page.get_by_role("img", name=re.compile("Failure rate per check")).count() == 1
    assert _page_width(page) <= 1280
    browser_helpers.save_screenshot(page, "dashboard-desktop")

    page.get_by_label("Learner (name or email contains)").fill("ADA")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"learner=ADA"))
    assert page.locator("table.dashboard-table tbody tr").count() == 2
    for submission_id in ada_ids:
        page.get_by_label(f"Select submission {submission_id}").check()
    page.get_by_role("button", name="Regrade selected").click()
    page.wait_for_url(re.compile(r"batch="))
    status = page.locator("#regrade-status")
    assert "2 queued, 0 running, 0 done of 2 regraded" in status.inner_text()

    # A worker grades them while the page is open: the poll shows it, then the page reloads.
    _grade(migrated, ada_ids[0], 9)
    page.wait_for_function(
        "() => document.getElementById('regrade-status').textContent.includes('1 done of 2')"
    )
    _grade(migrated, ada_ids[1], 2)
    page.wait_for_function(
        "() => document.getElementById('regrade-status').textContent.includes('all finished')"
    )
    body = page.locator("main").inner_text()
    assert "was 4.0 → now 9.0 (+5.0)" in body and "was 6.0 → now 2.0 (−4.0)" in body

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(DASHBOARD)
    phone_width = _page_width(page)
    browser_helpers.save_screenshot(page, "dashboard-phone")
    print(f"\ndashboard width at 390 px: {phone_width} px; console problems: {problems}")
    assert phone_width <= 390
    assert problems == []
    context.close()


def test_without_javascript_the_batch_page_refreshes_itself(
    live_server: str, browser, migrated: Settings
) -> None:  # type: ignore[no-untyped-def]
    ada_ids = _seed(migrated)
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(20_000)
    page = browser_helpers.log_in(context, "teach@example.org")
    page.goto(DASHBOARD)
    page.get_by_label(f"Select submission {ada_ids[0]}").check()
    page.get_by_role("button", name="Regrade selected").click()
    page.wait_for_url(re.compile(r"batch="))
    assert "1 queued" in page.locator("#regrade-status").inner_text()
    _grade(migrated, ada_ids[0], 10)
    deadline = time.monotonic() + 20  # the meta refresh comes every 5 s
    while "all finished" not in page.locator("#regrade-status").inner_text():
        assert time.monotonic() < deadline, "the page did not refresh itself"
        page.wait_for_timeout(500)
    assert "was 4.0 → now 10.0 (+6.0)" in page.locator("main").inner_text()
    context.close()
