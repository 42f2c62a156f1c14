"""Progress, due dates and extensions in a real browser: the pages fit a 390-pixel phone
screen with no console or CSP problem, and screenshots are kept under var/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import browser_helpers
import pytest
from sqlmodel import Session

from live_server import live_server
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models import Role
from servelab.db.models.progress import DueExtension, LessonVisit
from servelab.settings import Settings
from support import PASSWORD
from web.grading_web_helpers import SLUG, course_settings, sample_result, store_submission

pytestmark = [pytest.mark.browser, pytest.mark.slow]

browser = browser_helpers.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = course_settings(tmp_path, due="2020-01-01T12:00:00Z")
    toml = settings.exercises_dir / SLUG / "exercise.toml"
    policy = '\n[late_policy]\naccept = false\nnote = "Ask for an extension in advance."\n'
    toml.write_text(toml.read_text(encoding="utf-8") + policy, encoding="utf-8")
    return settings


@pytest.fixture
def live_url(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """`servelab serve` on a free port with the course above and its own database."""
    with live_server(settings, tmp_path) as server:
        _people(settings)
        yield server.base_url


def _people(settings: Settings) -> None:
    engine = make_engine(settings)
    with Session(engine) as db:
        learner = accounts.create_user(db, email="ada@example.org", password=PASSWORD)
        accounts.create_user(db, email="teach@example.org", password=PASSWORD, role=Role.INSTRUCTOR)
        store_submission(db, learner, result=sample_result())
        db.add(LessonVisit(user_id=learner.id or 0, lesson_slug=SLUG))
        db.add(
            DueExtension(
                exercise_slug=SLUG,
                user_id=learner.id or 0,
                due_at=datetime(2099, 1, 1, tzinfo=UTC),
            )
        )
        db.commit()
    engine.dispose()


def _fits_a_phone(page, path: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(path)
    for label, size in (("desktop", {"width": 1280, "height": 900}), ("phone", PHONE)):
        page.set_viewport_size(size)
        browser_helpers.save_screenshot(page, f"{name}-{label}")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    print(f"\n{path} width at 390 px: {width} px")
    assert width <= 390


def test_progress_due_dates_and_extensions_fit_a_phone(browser, live_url: str) -> None:  # type: ignore[no-untyped-def]
    problems: list[str] = []
    for email in ("ada@example.org", "teach@example.org"):
        context = browser.new_context(base_url=live_url)
        context.set_default_timeout(20_000)
        page = browser_helpers.log_in(context, email)
        page.on(
            "console",
            lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        if email.startswith("ada"):
            _fits_a_phone(page, "/", "course-progress")
            progress = page.locator(f'dl.progress[data-lesson="{SLUG}"]').inner_text()
            assert "Opened" in progress and "25.0 / 50.0" in progress
            _fits_a_phone(page, f"/exercises/{SLUG}", "exercise-due-date")
            browser_helpers.save_screenshot(
                page.locator("article.exercise > header"), "exercise-due-date-header-phone"
            )
            due = page.locator("#due-date").inner_text()
            assert re.search(r"Due 2099-01-01 00:00 UTC \(your extension", due)
        else:
            _fits_a_phone(page, f"/instructor/exercises/{SLUG}/extensions", "extensions")
            assert "ada@example.org" in page.locator("#extensions").inner_text()
        context.close()
    assert problems == []
