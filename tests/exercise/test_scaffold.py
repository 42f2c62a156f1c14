"""`servelab exercise new`: the scaffold passes content check and the self-test as is."""

from __future__ import annotations

from pathlib import Path

import pytest

from servelab.content.loader import load_course
from servelab.grading.scaffold import ScaffoldError, create_exercise
from servelab.grading.selftest import run_selftest
from servelab.settings import Settings


def test_new_refuses_an_existing_slug(tmp_path: Path) -> None:
    exercises, graders = tmp_path / "exercises", tmp_path / "graders"
    create_exercise(exercises_dir=exercises, graders_dir=graders, slug="taken")
    with pytest.raises(ScaffoldError, match="already exists"):
        create_exercise(exercises_dir=exercises, graders_dir=graders, slug="taken")


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
