"""`servelab exercise new` and `servelab exercise selftest` (platform/servelab/cli/exercise.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from servelab.cli import app
from servelab.cli.coverage_display import matrix_json, print_matrix
from servelab.content.loader import load_course
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.coverage import MARKDOWN_START, CoverageMatrix, build_matrix
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import CheckStatus, ResultDocument, TestResult
from servelab.grading.scaffold import create_exercise


def test_new_then_content_check_through_the_cli(course_dirs: tuple[Path, Path]) -> None:
    exercises, graders = course_dirs
    runner = CliRunner()
    created = runner.invoke(app, ["exercise", "new", "batch-inference", "--title", "Batch jobs"])
    assert created.exit_code == 0, created.output
    assert (exercises / "batch-inference" / "starter" / "main.py").is_file()
    assert (graders / "batch-inference" / "mutants" / "constant-mean" / "mutant.toml").is_file()
    checked = runner.invoke(app, ["content", "check"])
    assert checked.exit_code == 0, checked.output
    course = load_course(exercises)
    assert course.exercises["batch-inference"].title == "Batch jobs"
    assert not list((exercises / "batch-inference").rglob("*.tmpl"))


def test_new_refuses_an_existing_or_invalid_slug(course_dirs: tuple[Path, Path]) -> None:
    exercises, graders = course_dirs
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="taken")
    taken = CliRunner().invoke(app, ["exercise", "new", "taken"])
    assert taken.exit_code == 2 and "already exists" in taken.output
    result = CliRunner().invoke(app, ["exercise", "new", "Bad Slug"])
    assert result.exit_code == 2
    assert "not a valid slug" in result.output


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_selftest_cli_exits_non_zero_on_a_surprise(
    course_dirs: tuple[Path, Path], runtime_image: str
) -> None:
    exercises, graders = course_dirs
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="demo")
    declaration = graders / "demo" / "mutants" / "constant-mean" / "mutant.toml"
    declaration.write_text(
        'description = "claims the wrong check"\nmust_fail = ["test_health"]\n', encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["exercise", "selftest", "demo", "--only", "constant-mean"])
    assert result.exit_code == 1, result.output
    assert "SURPRISE" in result.output
    assert "Self-test failed" in result.output


def _graded(*failed: str) -> GradeOutcome:
    tests = [
        TestResult(
            name=name,
            nodeid=f"test_service.py::{name}",
            status=CheckStatus.FAILED if name in failed else CheckStatus.PASSED,
        )
        for name in ("test_health", "test_beats_the_mean_on_holdout", "test_invalid_input_is_422")
    ]
    return GradeOutcome(SubmissionStatus.GRADED, result=ResultDocument(tests=tests))


def _matrix() -> CoverageMatrix:
    return build_matrix(
        "demo",
        _graded(),
        [
            ("constant-mean", _graded("test_beats_the_mean_on_holdout")),
            (
                "no-validation",
                _graded("test_invalid_input_is_422", "test_beats_the_mean_on_holdout"),
            ),
        ],
    )


def test_matrix_in_a_terminal_is_a_table_with_suspects_and_fragile_mutants() -> None:
    console = Console(record=True, force_terminal=True, width=160, color_system=None)
    print_matrix(_matrix(), console)
    text = console.export_text()
    assert "Grader coverage: demo" in text
    header = next(line for line in text.splitlines() if "constant-mean" in line)
    assert "no-validation" in header and "Kills" in header
    health = next(line for line in text.splitlines() if "test_health" in line)
    assert "0 suspect" in health
    footer = next(line for line in text.splitlines() if "killed by" in line)
    assert "1 fragile" in footer and "2" in footer
    assert "fragile mutant: constant-mean is killed by one check only" in text
    assert MARKDOWN_START not in text


def test_matrix_outside_a_terminal_is_the_markdown_block() -> None:
    console = Console(record=True, force_terminal=False, width=80)
    print_matrix(_matrix(), console)
    text = console.export_text()
    assert text.startswith(MARKDOWN_START)
    # not wrapped at the console's width: the table stays one row per line
    assert "| test_invalid_input_is_422 | · | X | 1 |" in text.splitlines()


def test_matrix_json_names_what_stands_out() -> None:
    document = matrix_json(_matrix())
    assert document["suspect_checks"] == ["test_health"]
    assert document["fragile_mutants"] == {"constant-mean": "test_beats_the_mean_on_holdout"}
    assert document["surviving_mutants"] == []
    assert document["rows"][1] == {  # type: ignore[index]
        "check": "test_beats_the_mean_on_holdout",
        "reference_passed": True,
        "cells": ["killed", "killed"],
    }


def test_matrix_markdown_refuses_a_partial_run_before_grading(
    course_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    target = tmp_path / "CALIBRATION.md"
    result = CliRunner().invoke(
        app,
        ["exercise", "selftest", "demo", "--only", "solution", "--matrix-markdown", str(target)],
    )
    assert result.exit_code == 2
    assert "needs every mutant" in result.output
    assert not target.exists()
