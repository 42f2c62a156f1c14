"""`servelab exercise new` and `servelab exercise selftest` (platform/servelab/cli/exercise.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from servelab.cli import app
from servelab.content.loader import load_course
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
