"""`servelab exercise new`: the scaffold passes content check and the self-test as is."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from servelab.cli import app
from servelab.content.loader import load_course
from servelab.grading.scaffold import ScaffoldError, create_exercise
from servelab.grading.selftest import run_selftest
from servelab.settings import Settings, get_settings


@pytest.fixture
def course_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    exercises.mkdir()
    monkeypatch.setenv("SERVELAB_EXERCISES_DIR", str(exercises))
    monkeypatch.setenv("SERVELAB_GRADERS_DIR", str(graders))
    monkeypatch.setenv("SERVELAB_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield exercises, graders
    get_settings.cache_clear()


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
    with pytest.raises(ScaffoldError, match="already exists"):
        create_exercise(exercises_dir=exercises, graders_dir=graders, slug="taken")
    result = CliRunner().invoke(app, ["exercise", "new", "Bad Slug"])
    assert result.exit_code == 2
    assert "not a valid slug" in result.output


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_scaffolded_exercise_passes_the_selftest(
    tmp_path: Path, grading_settings: Settings
) -> None:
    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="demo-regression")
    settings = grading_settings.model_copy(
        update={"exercises_dir": exercises, "graders_dir": graders}
    )
    course = load_course(exercises, graders_dir=graders)
    report = run_selftest(settings, course, "demo-regression")
    assert report.ok, (report.problems, [v.surprises for v in report.verdicts])
    assert [v.candidate.name for v in report.verdicts] == ["solution", "constant-mean", "starter"]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_selftest_cli_exits_non_zero_on_a_surprise(
    course_dirs: tuple[Path, Path], grading_settings: Settings
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
