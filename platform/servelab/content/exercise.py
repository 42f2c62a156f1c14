"""exercise.toml: the practice task's settings, and the starter files learners begin from.

Owned by the grading engine.
"""

from __future__ import annotations

import io
import tomllib
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from servelab.content.errors import ContentError, ContentErrors, load_toml_model, locate_toml

DEFAULT_SUBMISSIONS_PER_HOUR = 10
# Files a learner may edit and send from the browser (anything else belongs in a zip).
EDITOR_FILES = ("train.py", "main.py", "requirements.txt")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExerciseLimits(_Strict):
    """Per-phase resource limits (clamped to a hard cap by the grading engine) and how often
    one learner may submit."""

    train_seconds: float = Field(120, gt=0)
    startup_seconds: float = Field(30, gt=0)
    test_seconds: float = Field(300, gt=0)
    memory_mb: int = Field(1024, gt=0)
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(512, gt=0)
    # Submissions one learner may make to this exercise in any hour: each graded run reports
    # on hidden data, so unlimited tries would let a learner probe it.
    submissions_per_hour: int = Field(DEFAULT_SUBMISSIONS_PER_HOUR, ge=1, le=1000)


class LatePolicy(_Strict):
    """What happens to work sent after a learner's due date (the exercise's `due`, or their
    extension). Late work that is accepted is graded as usual and marked late; any penalty is
    the instructor's to apply, so `note` says it in words on the exercise page."""

    accept: bool = True  # false: submissions after the due date are refused
    note: str = Field("", max_length=500)  # shown to learners beside the due date


def _relative(value: str) -> str:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts:
        raise ValueError("must be a path inside the exercise folder (no '..', not absolute)")
    return value


class Exercise(_Strict):
    """The practice task: what learners read, what they start from, how it is graded."""

    title: str = Field(min_length=1, max_length=200)
    summary: str = ""
    instructions: str = "exercise.md"  # the exercise page text, including the API contract
    starter: str = "starter"  # folder offered as starter.zip
    health_path: str = Field("/health", pattern=r"^/[A-Za-z0-9_\-./]*$")
    due: datetime | None = None  # after it, tests with visibility "after_due" are shown
    # graders/<slug>/data/final/ and data/feedback/ hold the two parts of the hidden data:
    # learners see checks on the feedback part until `due`, the grade uses the final part
    hidden_split: bool = False
    late_policy: LatePolicy = LatePolicy()
    categories: dict[str, str] = {}  # check category id -> label learners see
    limits: ExerciseLimits = ExerciseLimits()

    _relative_instructions = field_validator("instructions", "starter")(_relative)

    @field_validator("due", mode="before")
    @classmethod
    def _due_is_utc(cls, value: object) -> object:
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day, 23, 59, 59)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # naive TOML datetimes are read as UTC
        return value

    @model_validator(mode="after")
    def _late_policy_needs_due(self) -> Exercise:
        if "late_policy" in self.model_fields_set and self.due is None:
            raise ValueError("late_policy needs a due date: add `due` or remove [late_policy]")
        return self

    def for_learner(self, due: datetime | None) -> Exercise:
        """This exercise as one learner sees it: with their own due date (an extension).

        Every learner-facing decision (`is_past_due`, the after_due and hidden_split reveal,
        late marking) then reads that learner's date; grading/due_dates.py finds it."""
        if due == self.due:
            return self
        return self.model_copy(update={"due": due})

    def is_past_due(self, now: datetime | None = None) -> bool:
        return self.due is not None and (now or datetime.now(UTC)) >= self.due

    def category_label(self, category: str) -> str:
        return self.categories.get(category, category.replace("_", " ").capitalize())


def load_exercise(path: Path) -> Exercise:
    """Load and validate exercise.toml; raises ContentErrors naming file and line.

    Also checks that an instructions file or starter folder it names explicitly exists.
    """
    exercise = load_toml_model(path, Exercise)
    folder = path.parent
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    named = (
        ("instructions", exercise.instructions, "file", Path.is_file),
        ("starter", exercise.starter, "folder", Path.is_dir),
    )
    errors = [
        ContentError(
            path,
            locate_toml(text, (key,)),
            f"{key}: {kind} '{value}' not found next to exercise.toml",
        )
        for key, value, kind, exists in named
        if key in data and not exists(folder / value)
    ]
    if errors:
        raise ContentErrors(errors)
    return exercise


def starter_files(starter_dir: Path) -> dict[str, Path]:
    """The starter's regular files (relative name -> path); links and junk are left out."""
    root = starter_dir.resolve()
    files: dict[str, Path] = {}
    if not root.is_dir():
        return files
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_symlink() or not path.is_file() or path.suffix == ".pyc":
            continue
        if not path.resolve().is_relative_to(root):
            continue
        files[rel.as_posix()] = path
    return files


def starter_zip(starter_dir: Path) -> bytes:
    """The starter folder as a .zip whose files sit at the top level, ready to edit and submit."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in starter_files(starter_dir).items():
            archive.writestr(
                zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0)), path.read_bytes()
            )
    return buffer.getvalue()


def starter_texts(starter_dir: Path) -> dict[str, str]:
    """The editor's initial contents: the starter's train.py, main.py and requirements.txt."""
    files = starter_files(starter_dir)
    return {
        name: files[name].read_text(encoding="utf-8") if name in files else ""
        for name in EDITOR_FILES
    }
