"""Result documents stay under the 1 MB cap whatever the learner text, and are written safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from servelab.grading.fit import DocumentWriter, document_size, fit_document
from servelab.grading.results import (
    MAX_CHECKS,
    MAX_RESULT_BYTES,
    MAX_TABLE_ROWS,
    CheckStatus,
    FeedbackNote,
    Part,
    ResultDocument,
    Table,
    TestResult,
    parse_result,
)


def _check(n: int, *, text: int, notes: int, rows: int = MAX_TABLE_ROWS) -> TestResult:
    return TestResult(
        name=f"check {n} " + "n" * 250,
        nodeid=f"test_x.py::test_{n}[" + "p" * 400 + "]",
        score=1,
        max_score=1,
        status=CheckStatus.PASSED,
        output="o" * text,
        feedback=[FeedbackNote(message="f" * text) for _ in range(notes)],
        tables=[Table(name="t" * 200, rows=[{"k" * 100: "v" * 1000}] * rows) for _ in range(3)],
        instructor_output="i" * text,
    )


def _json_bytes(doc: ResultDocument) -> int:
    return len(doc.model_dump_json().encode())


def test_a_small_document_is_left_alone() -> None:
    doc = ResultDocument(tests=[_check(1, text=100, notes=1)]).with_totals()
    assert fit_document(doc) == doc


def test_instructor_output_goes_first() -> None:
    doc = ResultDocument(tests=[_check(n, text=20_000, notes=0) for n in range(30)])
    doc = doc.model_copy(update={"tests": [t.model_copy(update={"tables": []}) for t in doc.tests]})
    assert _json_bytes(doc) > MAX_RESULT_BYTES
    fitted = fit_document(doc)
    assert _json_bytes(fitted) <= MAX_RESULT_BYTES
    assert fitted.tests[0].output == doc.tests[0].output  # learner text kept whole
    assert len(fitted.tests[0].instructor_output) < 20_000


def test_huge_learner_text_is_trimmed_to_a_valid_document() -> None:
    tests = [_check(n, text=20_000, notes=20) for n in range(40)]
    doc = ResultDocument(tests=tests).with_totals()
    print(f"\n{_json_bytes(doc) / 1e6:.0f} MB of learner text -> ", end="")
    fitted = fit_document(doc)
    print(f"{_json_bytes(fitted) / 1e6:.2f} MB")
    assert _json_bytes(fitted) <= MAX_RESULT_BYTES
    again = parse_result(fitted.model_dump_json())
    assert (again.score, again.max_score, len(again.tests)) == (40, 40, 40)
    assert all(t.status == CheckStatus.PASSED for t in again.tests)


@pytest.mark.parametrize("count", [500, MAX_CHECKS])
def test_many_checks_fit_or_blame_the_grader(count: int) -> None:
    tests = [_check(n, text=1_000, notes=2, rows=1) for n in range(count)]
    feedback = [t.model_copy(update={"part": Part.FEEDBACK}) for t in tests]
    doc = ResultDocument(tests=tests, feedback_tests=feedback).with_totals()
    fitted = fit_document(doc)
    assert _json_bytes(fitted) <= MAX_RESULT_BYTES
    again = parse_result(fitted.model_dump_json())
    print(f"\n{2 * count} checks: {_json_bytes(fitted)} bytes, suite errors {again.suite_errors}")
    if count <= 500:  # up to ~1000 entries always fit once learner text is cut
        assert not again.suite_errors and len(again.feedback_tests) == count
    else:  # only the grader's own size can end here, never learner text
        assert "the suite has too many checks" in again.suite_errors[0]


def test_documents_are_written_whole_and_throttled(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.json"
    writer = DocumentWriter(path, share=1e-9)  # writing may take a billionth of the time
    assert writer.due
    writer.write(ResultDocument(tests=[_check(1, text=10, notes=1)], complete=False))
    assert not writer.due
    assert not parse_result(path.read_bytes()).complete
    assert list(path.parent.iterdir()) == [path]  # no partial file left behind


def test_sizes_are_counted_exactly() -> None:
    for count in (0, 1, 3):
        tests = [_check(n, text=50, notes=1, rows=2) for n in range(count)]
        doc = ResultDocument(tests=tests, feedback_tests=tests[:1]).with_totals()
        assert document_size(doc) == len(doc.model_dump_json().encode())
