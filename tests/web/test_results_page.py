"""The result page at a glance (submissions/_result.html, web/result_page.py): score and a bar
per category on top, checks not passed first, passed ones folded, the grader's slice table as
an SVG chart with its floor and baseline, "since your last submission", the score history on
the exercise page, and a failed run's log escaped, capped and folded. Real app, real database;
the documents are built by the plugin's own report functions (grading_web_helpers)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import HTML, SLUG, build_result, check_record, store_submission
from sqlmodel import Session

from servelab.db.models import Role, User
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.report import RawNote, RawTable
from servelab.grading.results import CheckStatus, ResultDocument, Table, Visibility
from servelab.settings import Settings
from servelab.web import result_page
from support import login


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    return tiny_settings


SLICE_TABLE = "Held-out ROC AUC per region"
# As the flagship's test_slices records it: the slice, counts, the metric, its interval, and
# the floor and baseline repeated in every row. One label holds markup: it must stay text.
SLICE_ROWS: list[dict[str, str | int | float | bool | None]] = [
    {
        "region": "north",
        "customers": 412,
        "roc_auc": 0.81,
        "interval_low": 0.77,
        "interval_high": 0.85,
        "floor": 0.6,
        "baseline": 0.7,
        "ok": True,
    },
    {
        "region": "<b>islands</b>",
        "customers": 23,
        "roc_auc": 0.55,
        "interval_low": 0.31,
        "interval_high": 0.58,
        "floor": 0.6,
        "baseline": 0.7,
        "ok": False,
    },
]
# name, points, category, visibility; 50 points in all.
CHECKS = [
    ("health answers", 10, "contract", Visibility.VISIBLE),
    ("rejects NaN", 10, "contract", Visibility.VISIBLE),
    ("every region above the floor", 5, "slices", Visibility.VISIBLE),
    ("secret holdout check", 25, "baseline", Visibility.HIDDEN),
]


def result(*failing: str) -> ResultDocument:
    """A graded document where the named checks failed, each with one teaching note."""
    records = []
    for i, (name, points, category, visibility) in enumerate(CHECKS):
        failed = name in failing
        records.append(
            check_record(
                f"test_tiny.py::test_{i}",
                name,
                points,
                category,
                visibility,
                status=CheckStatus.FAILED if failed else CheckStatus.PASSED,
                feedback=[RawNote(f"How to fix {name}.", f"section-{i}")] if failed else [],
                tables=[RawTable(SLICE_TABLE, SLICE_ROWS)] if category == "slices" else [],
                raw=[f"raw output of {name}"],
            )
        )
    return build_result(records)


def _section(html: str, section_id: str) -> str:
    found = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert found, f"no section {section_id}"
    return found.group(0)


def _page(client: TestClient, submission_id: int | None) -> str:
    r = client.get(f"/submissions/{submission_id}", headers=HTML)
    assert r.status_code == 200
    return r.text


def test_score_and_category_bars_come_first_then_failed_checks_then_passed_folded(
    learner_client: TestClient, learner: User, stored
) -> None:  # type: ignore[no-untyped-def]
    submission = stored(learner, result=result("rejects NaN", "secret holdout check"))
    html = _page(learner_client, submission.id)
    assert html.index('id="score"') < html.index('id="checks"') < html.index('id="tables"')
    score = _section(html, "score")
    assert "Score: 15.0 / 50.0" in score
    assert "2 of 3 checks shown passed" in score
    # One bar per category the learner sees, as a share of its points, the points beside it.
    assert 'id="chart-categories"' in score and 'role="img"' in score
    assert "<title>API contract: 50%</title>" in score
    assert "<title>Slices: 100%</title>" in score
    assert "Beats the baseline" not in score  # only hidden checks there

    checks = _section(html, "checks")
    folded = checks.index('<details class="passed-checks"')
    assert checks.index("rejects NaN") < folded
    assert "Passed checks (2)" in checks
    assert folded < checks.index("health answers")
    assert folded < checks.index("every region above the floor")
    # The failed check's one teaching message, once, with its lesson link.
    assert checks.count("How to fix rejects NaN.") == 1
    assert f'href="/lessons/{SLUG}#section-1"' in checks
    for secret in ("secret holdout check", "raw output of", "test_tiny.py::"):
        assert secret not in html


def test_the_slice_table_is_a_chart_with_floor_and_baseline_beside_its_numbers(
    learner_client: TestClient, learner: User, stored
) -> None:  # type: ignore[no-untyped-def]
    submission = stored(learner, result=result())
    tables = _section(_page(learner_client, submission.id), "tables")
    svg = re.search(r"<svg.*?</svg>", tables, re.S)
    assert svg, "no chart of the slice table"
    chart = svg.group(0)
    assert 'role="img"' in chart and f'<title id="chart-table-1-title">{SLICE_TABLE}' in chart
    # A bar per slice with the recorded metric, and the two reference lines.
    assert "<title>north: 0.81</title>" in chart
    assert "<title>&lt;b&gt;islands&lt;/b&gt;: 0.55</title>" in chart
    references = re.findall(r'<line class="chart-reference".*?<title>(.*?)</title>', chart, re.S)
    assert references == ["Floor: 0.6", "Baseline: 0.7"]
    assert "<b>islands</b>" not in tables  # the grader's labels are text, never markup
    # The numbers stay in a table beside the chart.
    table = tables[tables.index("</svg>") :]
    for cell in ("<td>north</td>", "<td>412</td>", "<td>0.81</td>", "<td>0.85</td>"):
        assert cell in table


def test_since_your_last_submission_lists_checks_newly_passing_and_newly_failing(
    learner_client: TestClient, learner: User, stored, make_user
) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC) - timedelta(hours=1)
    first = stored(
        learner,
        result=result("rejects NaN", "every region above the floor"),
        requested_at=start,
    )
    stored(learner, status=SubmissionStatus.FAILED, requested_at=start + timedelta(minutes=1))
    # Another learner's graded submission in between is not "your last submission".
    stored(make_user(Role.LEARNER), result=result(), requested_at=start + timedelta(minutes=2))
    second = stored(
        learner,
        result=result("health answers", "secret holdout check"),
        requested_at=start + timedelta(minutes=3),
    )
    assert 'id="since-last"' not in _page(learner_client, first.id)  # nothing to compare with

    since = _section(_page(learner_client, second.id), "since-last")
    assert f'href="/submissions/{first.id}"' in since
    assert "(35.0 / 50.0)" in since  # the earlier score, as the learner sees it
    passing = since[since.index('id="newly-passing"') : since.index('id="newly-failing"')]
    failing = since[since.index('id="newly-failing"') :]
    assert re.findall(r"<li>(.*?)</li>", passing) == [
        "rejects NaN",
        "every region above the floor",
    ]
    assert re.findall(r"<li>(.*?)</li>", failing) == ["health answers"]
    assert "secret holdout check" not in since  # hidden: its change is not named

    third = stored(
        learner,
        result=result("health answers", "secret holdout check"),
        requested_at=start + timedelta(minutes=4),
    )
    assert "No check changed its result." in _section(_page(learner_client, third.id), "since-last")


def test_the_exercise_page_shows_the_score_history_as_a_chart(
    learner_client: TestClient, learner: User, stored, make_user
) -> None:  # type: ignore[no-untyped-def]
    start = datetime.now(UTC) - timedelta(hours=1)
    scored = [
        stored(learner, result=result(*failing), requested_at=start + timedelta(minutes=i))
        for i, failing in enumerate(
            [
                ("rejects NaN", "every region above the floor", "secret holdout check"),
                (),
                ("rejects NaN",),
            ]
        )
    ]
    stored(learner, status=SubmissionStatus.FAILED, requested_at=start + timedelta(minutes=5))
    stored(make_user(Role.LEARNER), result=result(), requested_at=start)
    html = learner_client.get(f"/exercises/{SLUG}", headers=HTML).text
    history = html[html.index('id="score-history"') :]
    history = history[: history.index("</svg>")]
    dots = re.findall(r'<circle class="chart-dot".*?<title>(.*?)</title>', history, re.S)
    assert dots == [f"#{scored[0].id}: 20%", f"#{scored[1].id}: 100%", f"#{scored[2].id}: 80%"]
    assert '<polyline class="chart-line"' in history
    # And as numbers, oldest first.
    numbers = html[html.index('class="history-numbers"') :]
    assert (
        numbers.index("10.0 / 50.0") < numbers.index("50.0 / 50.0") < numbers.index("40.0 / 50.0")
    )


def test_a_failed_runs_log_is_escaped_capped_and_folded(
    learner_client: TestClient, learner: User, stored
) -> None:  # type: ignore[no-untyped-def]
    log = "<script>alert('x')</script>\n" + "training step\n" * 5_000
    submission = stored(
        learner,
        status=SubmissionStatus.FAILED,
        learner_message="train.py exited with status 1.",
        log_excerpt=log,
    )
    html = _page(learner_client, submission.id)
    folded = re.search(r'<details class="log" id="log">(.*?)</details>', html, re.S)
    assert folded, "the log is not in a folded <details>"
    text = folded.group(1)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert "<script>alert" not in html
    assert "characters cut" in text
    assert text.count("training step") < 1_000  # 5,000 were stored


def test_a_graded_runs_training_log_is_shown_escaped_and_capped_but_not_its_service_log(
    learner_client: TestClient, learner: User, stored
) -> None:  # type: ignore[no-untyped-def]
    submission = stored(
        learner,
        result=result(),
        train_log="<b>fitted</b> on 900 rows\n" + "epoch done, the loss went down\n" * 5_000,
        log_excerpt="INFO POST /predict {'tenure': 17} (a hidden row)",
    )
    html = _page(learner_client, submission.id)
    training = _section(html, "training")
    assert '<details class="log" id="train-log">' in training
    assert "&lt;b&gt;fitted&lt;/b&gt; on 900 rows" in training and "<b>fitted" not in html
    assert "characters cut" in training and training.count("epoch done") < 1_000
    assert "a hidden row" not in html  # the service saw hidden data: its log stays private

    none = stored(learner, result=result())
    assert 'id="training"' not in _page(learner_client, none.id)


def test_the_instructors_full_view_keeps_its_details_in_the_new_layout(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    submission = store_submission(
        db, make_user(Role.LEARNER), result=result("rejects NaN", "secret holdout check")
    )
    login(client, make_user(Role.INSTRUCTOR))
    html = client.get(f"/instructor/submissions/{submission.id}", headers=HTML).text
    checks = _section(html, "checks")
    folded = checks.index('<details class="passed-checks"')
    assert checks.index("rejects NaN") < folded and checks.index("secret holdout check") < folded
    for detail in ("raw output of rejects NaN", "test_tiny.py::test_1", "hidden"):
        assert detail in checks
    assert "Beats the baseline" in _section(html, "score")  # hidden checks count for instructors
    assert "<title>north: 0.81</title>" in _section(html, "tables")


def test_table_chart_needs_a_label_column_and_a_measured_column() -> None:
    def chart(rows: list[dict]) -> object:
        return result_page.table_chart(Table(name="t", rows=rows), chart_id="c")

    assert chart([]) is None
    assert chart([{"slice": 1, "mae": 0.5}]) is None  # the first column names no slice
    assert chart([{"slice": "a", "count": 3}]) is None  # counts are not a measured value
    drawn = result_page.table_chart(
        Table(
            name="t",
            rows=[{"slice": "a", "mae": 2.5, "floor": 1}, {"slice": "b", "mae": None, "floor": 2}],
        ),
        chart_id="c",
    )
    assert drawn is not None
    assert [r.tooltip for r in drawn.rects] == ["a: 2.5", "b: —"]
    assert not [s for s in drawn.segments if s.dashed]  # a floor that differs per row is no line
