"""Split hidden data: every hidden-data check runs once per part, final first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from attack_services import attack_service
from suite_runs import copy_suite, run_suite

from servelab.grading.results import CheckStatus, Part, learner_view


def test_hidden_data_checks_run_once_per_part(tmp_path: Path) -> None:
    grader = copy_suite("split", tmp_path) / "grader"
    with attack_service() as server:
        run = run_suite(tmp_path, server.path, grader, "--servelab-hidden-parts=final,feedback")
    assert run.code == 1, run.output
    doc = run.document()
    final = {t.nodeid: t for t in doc.tests}
    feedback = {t.nodeid: t for t in doc.feedback_tests}
    assert set(final) == {
        "test_split.py::test_health",
        "test_split.py::test_three_rows",
        "test_split.py::test_column_sum[x]",
        "test_split.py::test_column_sum[y]",
        "test_split.py::test_two_params[1-x]",
    }
    assert set(feedback) == set(final) - {"test_split.py::test_health"}
    assert final["test_split.py::test_health"].part is None
    assert {t.part for t in doc.tests} - {None} == {Part.FINAL}
    assert {t.part for t in doc.feedback_tests} == {Part.FEEDBACK}

    rows = "test_split.py::test_three_rows"
    assert (final[rows].status, final[rows].output) == (CheckStatus.PASSED, "Counted 3 rows.")
    assert (feedback[rows].status, feedback[rows].output) == (CheckStatus.FAILED, "Counted 2 rows.")
    assert final[rows].name == feedback[rows].name == "The holdout has three rows"
    column = "test_split.py::test_column_sum[x]"
    assert final[column].name == "A column of the holdout sums to six [x]"
    assert final[column].tables[0].rows == [{"column": "x", "total": 0.86, "rows": 3}]  # 6/7
    assert feedback[column].tables[0].rows == [{"column": "x", "total": 1.29, "rows": 2}]  # 9/7

    # final: health 1 + rows 2 + sums 2 + two params 1; feedback: only health passes
    assert (doc.score, doc.max_score) == (6, 6)
    assert (doc.feedback_score, doc.feedback_max_score) == (1, 6)
    due = datetime.now(UTC) + timedelta(days=1)
    before = learner_view(doc, due=due)
    assert before.score == 1
    assert [t.output for t in before.tests if t.name.startswith("The holdout")] == [
        "Counted 2 rows."
    ]
    after = learner_view(doc, due=due, now=due + timedelta(seconds=1))
    assert after.score == 6


def test_without_the_option_hidden_data_is_read_as_before(tmp_path: Path) -> None:
    grader = copy_suite("split", tmp_path) / "grader"
    (grader / "data" / "holdout.csv").write_text("x,y\n2,2\n2,2\n2,2\n")
    with attack_service() as server:
        run = run_suite(tmp_path, server.path, grader)
    assert run.code == 0, run.output
    doc = run.document()
    assert not doc.feedback_tests and doc.feedback_score is None
    assert all(t.part is None for t in doc.tests)
    assert "test_split.py::test_three_rows" in {t.nodeid for t in doc.tests}


def test_an_unknown_part_is_a_usage_error(tmp_path: Path) -> None:
    grader = copy_suite("split", tmp_path) / "grader"
    with attack_service() as server:
        run = run_suite(tmp_path, server.path, grader, "--servelab-hidden-parts=final,public")
    assert run.code == 4
    assert "--servelab-hidden-parts takes final, feedback" in run.output
