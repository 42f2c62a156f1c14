"""exercise.toml: the grading settings of a practice task, with errors naming file and line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from servelab.content.errors import ContentErrors
from servelab.content.exercise import DEFAULT_SUBMISSIONS_PER_HOUR, load_exercise
from servelab.settings import PROJECT_ROOT

FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "course" / "exercises" / "tiny-regression"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exercise.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fixture_exercise_loads_with_limits_and_labels() -> None:
    exercise = load_exercise(FIXTURE / "exercise.toml")
    assert exercise.title == "Tiny regression service"
    assert exercise.health_path == "/health"
    assert exercise.limits.train_seconds == 30 and exercise.limits.memory_mb == 512
    assert exercise.category_label("contract") == "API contract"
    assert exercise.category_label("per_slice") == "Per slice"
    assert not exercise.is_past_due()


def test_the_flagship_sets_its_own_hourly_limit() -> None:
    flagship = load_exercise(PROJECT_ROOT / "exercises" / "fastapi-for-ml-apis" / "exercise.toml")
    assert flagship.limits.submissions_per_hour == 6


def test_defaults_and_due_date_read_as_utc(tmp_path: Path) -> None:
    exercise = load_exercise(_write(tmp_path, 'title = "T"\ndue = 2026-01-31T12:00:00\n'))
    assert exercise.limits.train_seconds == 120 and exercise.limits.pids == 512
    assert exercise.limits.submissions_per_hour == DEFAULT_SUBMISSIONS_PER_HOUR == 10
    assert exercise.due == datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert exercise.is_past_due(datetime(2026, 2, 1, tzinfo=UTC))
    day_only = load_exercise(_write(tmp_path, 'title = "T"\ndue = 2026-01-31\n'))
    assert day_only.due == datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('title = "T"\n\n[limits]\ntrain_secs = 5\n', 4, "unknown key 'train_secs'"),
        ('title = "T"\nhealth_path = "health"\n', 2, "health_path"),
        ('title = "T"\ninstructions = "../secret.md"\n', 2, "inside the exercise folder"),
        ('title = "T"\ninstructions = "missing.md"\n', 2, "file 'missing.md' not found"),
        ('title = "T"\nstarter = "nowhere"\n', 2, "folder 'nowhere' not found"),
        ('title = "T"\n[limits]\nmemory_mb = 0\n', 3, "greater than 0"),
        ('title = "T"\n[limits]\nsubmissions_per_hour = 0\n', 3, "greater than or equal to 1"),
    ],
)
def test_mistakes_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(ContentErrors) as info:
        load_exercise(_write(tmp_path, text))
    error = info.value.errors[0]
    assert (error.path.name, error.line) == ("exercise.toml", line)
    assert message in error.message


def test_late_policy_defaults_to_accepting_late_work(tmp_path: Path) -> None:
    exercise = load_exercise(_write(tmp_path, 'title = "T"\n'))
    assert exercise.late_policy.accept and exercise.late_policy.note == ""
    strict = load_exercise(
        _write(
            tmp_path,
            'title = "T"\ndue = 2026-01-31\n\n[late_policy]\naccept = false\n'
            'note = "Email the instructor."\n',
        )
    )
    assert not strict.late_policy.accept and strict.late_policy.note == "Email the instructor."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('title = "T"\n[late_policy]\naccept = false\n', "late_policy needs a due date"),
        ('title = "T"\ndue = 2026-01-31\n[late_policy]\npenalty = 10\n', "unknown key 'penalty'"),
        (
            f'title = "T"\ndue = 2026-01-31\n[late_policy]\nnote = "{"x" * 501}"\n',
            "at most 500 characters",
        ),
        ('title = "T"\ndue = 2026-01-31\n[late_policy]\naccept = "maybe"\n', "valid boolean"),
    ],
)
def test_late_policy_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ContentErrors) as info:
        load_exercise(_write(tmp_path, text))
    error = info.value.errors[0]
    assert error.path.name == "exercise.toml"
    assert message in error.message, error.message


def test_an_extension_replaces_the_due_date_for_one_learner_only(tmp_path: Path) -> None:
    exercise = load_exercise(_write(tmp_path, 'title = "T"\ndue = 2026-01-31T00:00:00Z\n'))
    later = datetime(2026, 2, 7, tzinfo=UTC)
    mine = exercise.for_learner(later)
    assert mine.due == later and exercise.due == datetime(2026, 1, 31, tzinfo=UTC)
    assert exercise.is_past_due(datetime(2026, 2, 1, tzinfo=UTC))
    assert not mine.is_past_due(datetime(2026, 2, 1, tzinfo=UTC))
    assert exercise.for_learner(exercise.due) is exercise
