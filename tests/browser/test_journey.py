"""The whole course in a real browser (Debian's Chromium) against a real server that grades in
Docker: a learner signs up, reads the lesson, runs its example, submits the starter from the
editor, watches it to a result with the slice chart, and uploads the reference as a zip for
full marks; an instructor filters the dashboard, regrades a selection and exports the grades.
Screenshots of each step, at desktop and phone widths, go to var/screenshots/journey-*.png."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import browser_helpers
import pytest

from live_server import live_server
from servelab.db.models import Role
from servelab.settings import PROJECT_ROOT, Settings
from support import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.slow]

browser = browser_helpers.browser

SLUG = "fastapi-for-ml-apis"
REFERENCE = PROJECT_ROOT / "graders" / SLUG / "solution"
LEARNER = "grace@example.org"
INSTRUCTOR = "teacher@example.org"
GRADING_MS = 240_000  # one grading on a loaded 2-core machine, with room to spare
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _shots(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Full-page screenshots of what the page shows now, at desktop and phone widths."""
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        browser_helpers.save_screenshot(page, f"journey-{name}-{width}")
    page.set_viewport_size(DESKTOP)


def _reference_zip(folder: Path) -> Path:
    archive = folder / "reference.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(REFERENCE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(REFERENCE).as_posix())
    return archive


def _wait_for_result(page) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """From a submission page: the live progress reloads the page when grading ends."""
    page.wait_for_selector("#score-title", timeout=GRADING_MS)
    found = re.search(r"Score: ([\d.]+) / ([\d.]+)", page.locator("#score-title").inner_text())
    assert found, page.locator("main").inner_text()[:2000]
    return float(found[1]), float(found[2])


def test_a_learner_and_an_instructor_go_through_the_course(  # type: ignore[no-untyped-def]
    settings: Settings, tmp_path: Path, grader_image: str, browser
) -> None:
    with live_server(
        settings, tmp_path, SERVELAB_EMBEDDED_WORKER="true", SERVELAB_WORKER_COUNT="1"
    ) as running:
        browser_helpers.add_user(settings, INSTRUCTOR, role=Role.INSTRUCTOR)
        context = browser.new_context(base_url=running.base_url, viewport=DESKTOP)
        context.set_default_timeout(30_000)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "console",
            lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
        )

        # Sign up, then read the lesson from the course index.
        page.goto("/signup")
        page.fill("#email", LEARNER)
        page.fill("#display_name", "Grace")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(lambda url: "/signup" not in url)
        page.goto("/")
        page.locator(f"a[href='/lessons/{SLUG}']").first.click()
        page.wait_for_url(f"**/lessons/{SLUG}")
        assert page.locator("#example").is_visible()

        # Run its example in the sandbox: the output matches the expected one.
        page.locator("#example-run-form").get_by_role("button", name="Run").click()
        status = page.locator("#example-run-result .example-run-status:not(.is-running)")
        status.wait_for(timeout=120_000)
        assert "matches" in status.inner_text(), page.locator("#example-run-result").inner_text()
        _shots(page, "lesson")

        # Open the editor and submit the starter as it is.
        page.goto(f"/exercises/{SLUG}")
        page.get_by_role("textbox", name="train.py (code editor)").wait_for()
        _shots(page, "exercise-editor")
        page.get_by_role("button", name="Submit these files").click()
        page.wait_for_url(re.compile(r"/submissions/\d+$"))
        starter_id = int(page.url.rsplit("/", 1)[1])
        assert page.locator("#progress").is_visible()
        starter_score, max_score = _wait_for_result(page)
        assert 0 < starter_score < max_score  # the starter passes the contract, not the rest

        # The result at a glance: failed checks first, and the per-slice chart.
        assert page.locator("#failed-checks li").count() > 0
        slice_chart = page.locator("#tables figure.chart svg[role=img]")
        assert slice_chart.count() > 0
        assert slice_chart.first.locator("rect").count() > 1
        assert slice_chart.first.locator("line[stroke-dasharray]").count() >= 1  # the floor
        _shots(page, "result-starter")

        # Upload the reference as a zip: full marks.
        page.goto(f"/exercises/{SLUG}")
        page.set_input_files("#archive", str(_reference_zip(tmp_path)))
        page.get_by_role("button", name="Upload and grade").click()
        page.wait_for_url(re.compile(r"/submissions/\d+$"))
        reference_id = int(page.url.rsplit("/", 1)[1])
        score, top = _wait_for_result(page)
        assert score == top == max_score
        assert page.locator("#failed-checks li").count() == 0
        assert page.locator("#newly-passing li").count() > 0  # since the starter
        _shots(page, "result-reference")
        page.goto(f"/exercises/{SLUG}")
        history = page.locator("figure.chart-line svg circle")
        assert history.count() == 2
        _shots(page, "exercise-history")
        context.close()

        # The instructor: filter the dashboard, regrade a selection, export the grades.
        context = browser.new_context(base_url=running.base_url, viewport=DESKTOP)
        context.set_default_timeout(30_000)
        page = browser_helpers.log_in(context, INSTRUCTOR)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"/instructor/exercises/{SLUG}/submissions")
        page.fill("#f-learner", "grace")
        page.select_option("#f-status", "graded")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r"learner=grace"))
        picks = page.locator("input[name=ids]")
        assert sorted(int(v) for v in picks.evaluate_all("es => es.map(e => e.value)")) == [
            starter_id,
            reference_id,
        ]
        assert page.locator("figure.chart-histogram svg").count() == 1
        assert page.locator("figure.chart-bar svg").count() >= 1  # which checks trip learners
        _shots(page, "dashboard")

        page.check(f"#pick-{starter_id}")
        page.get_by_role("button", name="Regrade selected").click()
        page.wait_for_url(re.compile(r"batch="))
        assert "of 1 regraded" in page.locator("#regrade-status").inner_text()
        # The page follows the batch (a poll, or a refresh without JavaScript) until it is done.
        page.wait_for_function(
            "() => /all finished/.test(document.querySelector('#regrade-status')?.innerText)",
            timeout=GRADING_MS,
        )
        change = page.locator(".score-change")
        assert change.count() == 1 and re.search(r"was [\d.]+ → now [\d.]+", change.inner_text())
        _shots(page, "dashboard-regraded")

        with page.expect_download() as download:
            page.get_by_role("link", name="CSV", exact=True).first.click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        [grace] = [row for row in rows if LEARNER in row.values()]
        assert float(grace["score"]) == top and int(grace["submission_id"]) == reference_id
        context.close()
    assert problems == []
