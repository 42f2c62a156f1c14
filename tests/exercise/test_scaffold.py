"""`servelab exercise new`: the scaffold passes content check and the self-test as is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servelab.cli import app
from servelab.content.loader import load_course
from servelab.grading.coverage import markdown_block, render_markdown
from servelab.grading.coverage_store import load_matrix
from servelab.grading.scaffold import ScaffoldError, create_exercise
from servelab.settings import Settings, get_settings


def test_new_refuses_an_existing_slug(tmp_path: Path) -> None:
    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="taken")
    with pytest.raises(ScaffoldError, match="already exists"):
        create_exercise(exercises_dir=exercises, graders_dir=graders, slug="taken")


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_scaffolded_exercise_passes_the_selftest_and_shows_its_matrix(
    tmp_path: Path, grading_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI, so the same three gradings also cover --matrix: the JSON, the stored
    copy for the coverage page and the block replaced in the scaffold's CALIBRATION.md."""
    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="demo-regression")
    monkeypatch.setenv("SERVELAB_ENVIRONMENT", "test")
    monkeypatch.setenv("SERVELAB_VAR_DIR", str(grading_settings.var_dir))
    monkeypatch.setenv("SERVELAB_EXERCISES_DIR", str(exercises))
    monkeypatch.setenv("SERVELAB_GRADERS_DIR", str(graders))
    calibration = graders / "demo-regression" / "CALIBRATION.md"
    scaffolded = calibration.read_text(encoding="utf-8")  # the scaffold's, with both markers
    old_block = markdown_block(scaffolded)
    assert old_block is not None
    get_settings.cache_clear()
    try:
        args = ["exercise", "selftest", "demo-regression", "--json", "--matrix"]
        result = CliRunner().invoke(app, [*args, "--matrix-markdown", str(calibration)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"], report
    assert [v["name"] for v in report["verdicts"]] == ["solution", "constant-mean", "starter"]
    matrix = report["matrix"]
    assert [m["name"] for m in matrix["mutants"]] == ["constant-mean"]
    assert matrix["fragile_mutants"] == {"constant-mean": "test_beats_the_mean_on_holdout"}
    assert "test_health" in matrix["suspect_checks"]
    stored = load_matrix(grading_settings, "demo-regression")
    assert stored is not None and stored.selftest_ok
    assert stored.matrix.model_dump(mode="json") == {
        k: matrix[k] for k in ("slug", "mutants", "rows")
    }
    text = calibration.read_text(encoding="utf-8")
    assert text == scaffolded.replace(old_block, render_markdown(stored.matrix))


def test_a_new_lesson_is_ordered_after_the_existing_ones(tmp_path: Path) -> None:
    """The course index lists lessons by `order`: a scaffolded second lesson must come after
    the first, not before it (every scaffold used to say order = 100)."""
    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="first-lesson")
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="second-lesson")
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="placed", order=7)
    course = load_course(exercises, graders_dir=graders)
    assert [lesson.slug for lesson in course.ordered_lessons()] == [
        "first-lesson",
        "second-lesson",
        "placed",
    ]
    assert [course.lessons[s].meta.order for s in ("first-lesson", "second-lesson")] == [1, 2]
