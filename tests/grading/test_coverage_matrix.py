"""The coverage matrix as a pure function of the self-test's gradings (no Docker), its
Markdown block for CALIBRATION.md, and the stored copy the instructor page reads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servelab.db.models.grading import SubmissionStatus
from servelab.grading.coverage import (
    MARKDOWN_END,
    MARKDOWN_START,
    Cell,
    CoverageMatrix,
    MarkdownBlockError,
    build_matrix,
    findings,
    markdown_block,
    matrix_from_report,
    render_markdown,
    replace_markdown_block,
)
from servelab.grading.coverage_store import (
    MAX_STORED_BYTES,
    CoverageStoreError,
    load_matrix,
    matrix_path,
    store_matrix,
)
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import CheckStatus, Part, ResultDocument, TestResult
from servelab.grading.selftest import Candidate, Kind, SelftestReport, Verdict
from servelab.settings import Settings

CHECKS = ("test_health", "test_schema", "test_leak[id]", "test_leak[offer]", "test_auc")


def _graded(
    *failed: str, errored: tuple[str, ...] = (), missing: tuple[str, ...] = ()
) -> GradeOutcome:
    tests = [
        TestResult(
            name=name,
            nodeid=f"test_suite.py::{name}",
            max_score=1,
            score=0 if name in failed + errored else 1,
            status=CheckStatus.ERROR
            if name in errored
            else CheckStatus.FAILED
            if name in failed
            else CheckStatus.PASSED,
        )
        for name in CHECKS
        if name not in missing
    ]
    return GradeOutcome(SubmissionStatus.GRADED, result=ResultDocument(tests=tests).with_totals())


SLOW_START = GradeOutcome(SubmissionStatus.FAILED, learner_message="did not become healthy")


def _matrix() -> CoverageMatrix:
    return build_matrix(
        "demo",
        _graded(),
        [
            ("leaks-id", _graded("test_leak[id]", "test_auc")),
            ("bad-schema", _graded(errored=("test_schema",))),
            ("slow-start", SLOW_START),
            ("cut-short", _graded("test_auc", missing=("test_leak[offer]",))),
        ],
    )


def test_a_check_kills_a_mutant_it_passes_on_the_reference_and_fails_on_the_mutant() -> None:
    matrix = _matrix()
    assert [r.check for r in matrix.rows] == list(CHECKS)  # the suite's order, cases apart
    assert [m.name for m in matrix.mutants] == ["leaks-id", "bad-schema", "slow-start", "cut-short"]
    assert matrix.kills("test_auc") == ["leaks-id", "cut-short"]
    assert matrix.kills("test_schema") == ["bad-schema"]  # an error fails the check too
    assert matrix.killed_by("leaks-id") == ["test_leak[id]", "test_auc"]
    row = next(r for r in matrix.rows if r.check == "test_leak[offer]")
    # a check the mutant's suite never reached is not a kill, nor a survival
    assert row.cells == [Cell.SURVIVED, Cell.SURVIVED, Cell.NOT_RUN, Cell.NOT_RUN]


def test_suspect_checks_and_fragile_mutants() -> None:
    matrix = _matrix()
    assert matrix.suspect_checks == ["test_health", "test_leak[offer]"]
    assert matrix.fragile_mutants == {"bad-schema": "test_schema", "cut-short": "test_auc"}
    # killed by the pipeline (too slow to start), not by a check: neither fragile nor a survivor
    assert matrix.graded_mutants == ["leaks-id", "bad-schema", "cut-short"]
    assert [m.name for m in matrix.ungraded_mutants] == ["slow-start"]
    assert matrix.surviving_mutants == []
    assert findings(matrix) == [
        "suspect check: test_health kills no mutant",
        "suspect check: test_leak[offer] kills no mutant",
        "fragile mutant: bad-schema is killed by one check only (test_schema)",
        "fragile mutant: cut-short is killed by one check only (test_auc)",
    ]


def test_a_check_the_reference_fails_kills_nothing_and_is_reported_as_such() -> None:
    matrix = build_matrix(
        "demo", _graded("test_auc"), [("m", _graded("test_auc")), ("same", _graded())]
    )
    assert matrix.kills("test_auc") == []
    assert "test_auc" not in matrix.suspect_checks
    assert matrix.surviving_mutants == ["m", "same"]
    assert "the reference does not pass test_auc: it cannot kill anything" in findings(matrix)
    assert "surviving mutant: same is killed by no check" in findings(matrix)


def test_an_ungraded_reference_has_no_matrix() -> None:
    with pytest.raises(ValueError, match="reference was not graded"):
        build_matrix("demo", SLOW_START, [])


def test_with_split_hidden_data_the_graded_final_part_decides() -> None:
    """A check computed on both parts counts once, as it counts in the grade."""
    final = TestResult(
        name="test_auc", nodeid="t.py::test_auc", status=CheckStatus.FAILED, part=Part.FINAL
    )
    feedback = final.model_copy(update={"part": Part.FEEDBACK})
    doc = ResultDocument(tests=[final], feedback_tests=[feedback]).with_totals()
    reference = ResultDocument(tests=[final.model_copy(update={"status": CheckStatus.PASSED})])
    matrix = build_matrix(
        "demo",
        GradeOutcome(SubmissionStatus.GRADED, result=reference),
        [("m", GradeOutcome(SubmissionStatus.GRADED, result=doc))],
    )
    assert [r.check for r in matrix.rows] == ["test_auc"]
    assert matrix.kills("test_auc") == ["m"]


def _verdict(name: str, kind: Kind, outcome: GradeOutcome) -> Verdict:
    return Verdict(
        candidate=Candidate(name, kind, Path(".")),
        status=outcome.status,
        score=outcome.score,
        max_score=outcome.max_score,
        failed_checks=[],
        surprises=[],
        seconds=0,
        outcome=outcome,
    )


def test_matrix_from_a_report_uses_the_mutants_and_leaves_out_the_starter() -> None:
    report = SelftestReport(
        "demo",
        [
            _verdict("solution", Kind.REFERENCE, _graded()),
            _verdict("leaks-id", Kind.MUTANT, _graded("test_leak[id]")),
            _verdict("starter", Kind.STARTER, _graded(*CHECKS[1:])),
        ],
    )
    matrix = matrix_from_report(report)
    assert matrix is not None
    assert [m.name for m in matrix.mutants] == ["leaks-id"]
    assert matrix.kills("test_leak[id]") == ["leaks-id"]
    without_reference = SelftestReport("demo", report.verdicts[1:])
    assert matrix_from_report(without_reference) is None


def test_markdown_block_is_a_table_with_marks_counts_and_findings() -> None:
    block = render_markdown(_matrix())
    lines = block.splitlines()
    assert lines[0] == MARKDOWN_START and lines[-1] == MARKDOWN_END
    assert "| check | leaks-id | bad-schema | slow-start | cut-short | kills |" in lines
    assert "| test_auc | X | · | – | X | 2 |" in lines
    assert "| test_health | · | · | – | · | 0 (suspect) |" in lines
    assert "| **killed by** | 2 | 1 | failed before the checks | 1 | |" in lines
    assert "- fragile mutant: cut-short is killed by one check only (test_auc)" in lines
    # every table row has as many cells as the header
    table = [line for line in lines if line.startswith("|")]
    assert {line.replace("\\|", "").count("|") for line in table} == {7}


def test_a_pipe_in_a_name_does_not_break_the_table() -> None:
    matrix = build_matrix("demo", _graded(), [("a|b", _graded("test_auc"))])
    assert "| check | a\\|b | kills |" in render_markdown(matrix)


def test_the_block_replaces_the_old_one_in_place_and_nothing_else() -> None:
    block = render_markdown(_matrix())
    old = f"# Calibration\n\nintro\n\n{MARKDOWN_START}\nstale\n{MARKDOWN_END}\n\n## After\n"
    new = replace_markdown_block(old, block)
    assert new == f"# Calibration\n\nintro\n\n{block}\n## After\n"
    assert markdown_block(new) == block
    assert markdown_block("no block here") is None
    with pytest.raises(MarkdownBlockError, match="coverage-matrix:start"):
        replace_markdown_block("# Calibration without markers\n", block)


def test_stored_matrix_round_trips_atomically(tmp_path: Path) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var")
    assert load_matrix(settings, "demo") is None
    path = store_matrix(settings, _matrix(), selftest_ok=False)
    assert path == tmp_path / "var" / "selftest" / "demo.json"
    stored = load_matrix(settings, "demo")
    assert stored is not None and stored.matrix == _matrix() and not stored.selftest_ok
    store_matrix(settings, build_matrix("demo", _graded(), []), selftest_ok=True)
    again = load_matrix(settings, "demo")
    assert again is not None and again.matrix.mutants == [] and again.selftest_ok
    assert os.listdir(path.parent) == ["demo.json"]  # no partial file left behind


def test_a_damaged_stored_matrix_is_a_message_not_a_crash(tmp_path: Path) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var")
    path = store_matrix(settings, _matrix(), selftest_ok=True)
    path.write_text('{"matrix": {"slug": "demo"}}', encoding="utf-8")
    with pytest.raises(CoverageStoreError, match="not a valid matrix.*selftest demo --matrix"):
        load_matrix(settings, "demo")
    path.write_bytes(b" " * (MAX_STORED_BYTES + 1))
    with pytest.raises(CoverageStoreError, match="over"):
        load_matrix(settings, "demo")
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(CoverageStoreError, match="cannot be opened"):
        load_matrix(settings, "demo")
    other = store_matrix(settings, build_matrix("other", _graded(), []), selftest_ok=True)
    path.unlink()
    other.rename(path)
    with pytest.raises(CoverageStoreError, match="holds the matrix of 'other'"):
        load_matrix(settings, "demo")


def test_only_a_slug_names_a_stored_file(tmp_path: Path) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var")
    for bad in ("../secrets", "a/b", "Demo", ""):
        with pytest.raises(CoverageStoreError, match="not an exercise slug"):
            matrix_path(settings, bad)
