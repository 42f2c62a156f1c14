"""The result document: validation, size cap, totals and what learners may see."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from servelab.grading.results import (
    MAX_RESULT_BYTES,
    CheckStatus,
    FeedbackNote,
    ResultDocument,
    ResultError,
    TestResult,
    Visibility,
    learner_view,
    parse_result,
    read_result_file,
)


def _test(name: str, score: float, max_score: float = 1, **kw: object) -> TestResult:
    status = CheckStatus.PASSED if score == max_score else CheckStatus.FAILED
    return TestResult(name=name, score=score, max_score=max_score, status=status, **kw)  # type: ignore[arg-type]


def _doc() -> ResultDocument:
    return ResultDocument(
        tests=[
            _test("health", 1, category="contract", instructor_output="assert 500 == 200"),
            _test("beats baseline", 0, 2, category="baseline", output="No better than the mean."),
            _test("secret", 1, category="contract", visibility=Visibility.HIDDEN),
            _test("late", 0, 1, category="slices", visibility=Visibility.AFTER_DUE),
        ],
        suite_errors=[],
        instructor_output="raw pytest output with hidden value 42.17",
    ).with_totals({"contract": "API contract"})


def test_totals_per_document_and_category() -> None:
    doc = _doc()
    assert (doc.score, doc.max_score) == (2, 5)
    totals = {
        c.category: (c.label, c.score, c.max_score, c.passed, c.total) for c in doc.categories
    }
    assert totals["contract"] == ("API contract", 2, 2, 2, 2)
    assert totals["baseline"] == ("Baseline", 0, 2, 0, 1)


def test_learner_view_strips_instructor_fields_and_hidden_checks() -> None:
    view = learner_view(_doc())
    names = [t.name for t in view.tests]
    assert names == ["health", "beats baseline"]
    assert all(t.instructor_output == "" and t.nodeid == "" for t in view.tests)
    assert view.instructor_output == ""
    assert "42.17" not in view.model_dump_json()
    assert "assert 500" not in view.model_dump_json()
    assert view.score == 2  # the grade itself stays
    assert {c.category for c in view.categories} == {"contract", "baseline"}


def test_after_due_checks_appear_once_due() -> None:
    due = datetime(2026, 1, 1, tzinfo=UTC)
    before = learner_view(_doc(), due=due, now=due - timedelta(seconds=1))
    after = learner_view(_doc(), due=due, now=due)
    assert "late" not in [t.name for t in before.tests]
    assert "late" in [t.name for t in after.tests]
    assert "secret" not in [t.name for t in after.tests]


def test_round_trip_and_gradescope_fields() -> None:
    doc = _doc()
    raw = doc.model_dump_json()
    data = json.loads(raw)
    assert {"score", "max_score", "execution_time", "output", "tests", "leaderboard"} <= set(data)
    assert {"name", "score", "max_score", "output", "visibility", "tags"} <= set(data["tests"][0])
    assert parse_result(raw) == doc


def test_refuses_oversized_malformed_and_impossible_documents(tmp_path) -> None:
    with pytest.raises(ResultError, match="1 MB"):
        parse_result(b" " * (MAX_RESULT_BYTES + 1))
    with pytest.raises(ResultError, match="not valid"):
        parse_result(b"\x80\x04pickle")
    with pytest.raises(ResultError, match="not valid"):
        parse_result(json.dumps({"tests": [{"name": "x", "status": "passed", "unknown": 1}]}))
    bad_score = {"tests": [{"name": "x", "status": "passed", "score": 3, "max_score": 1}]}
    with pytest.raises(ResultError, match="outside"):
        parse_result(json.dumps(bad_score))
    with pytest.raises(ResultError, match="no result document"):
        read_result_file(tmp_path / "missing.json")
    big = tmp_path / "big.json"
    big.write_bytes(b"[" + b"1," * MAX_RESULT_BYTES + b"1]")
    with pytest.raises(ResultError, match="1 MB"):
        read_result_file(big)


def test_feedback_section_is_kept() -> None:
    test = _test("x", 0, feedback=[FeedbackNote(message="see", section="leakage")])
    assert (
        parse_result(ResultDocument(tests=[test]).model_dump_json()).tests[0].feedback[0].section
        == "leakage"
    )
