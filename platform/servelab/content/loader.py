"""Load the whole course (every `exercises/<slug>/` folder) once, reporting every mistake;
find an exercise in it (the one way: the web app, the workers and the CLI all ask the Course)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from servelab.content.errors import ContentError, ContentErrors, locate_toml
from servelab.content.exercise import Exercise, load_exercise
from servelab.content.lesson import Lesson, load_lesson
from servelab.content.quiz import Quiz, load_quiz
from servelab.settings import Settings

LESSON_FILE = "lesson.md"
QUIZ_FILE = "quiz.toml"
EXERCISE_FILE = "exercise.toml"


class UnknownExercise(LookupError):
    """No exercise of that slug in the course, or (for grading) no grader suite for it.

    The message is fit for the person asking, as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ExerciseFiles:
    """An exercise and its folders: exercises/<slug>/ (public) and graders/<slug>/ (hidden)."""

    slug: str
    exercise: Exercise
    exercise_dir: Path
    grader_dir: Path

    @property
    def starter_dir(self) -> Path:
        return self.exercise_dir / self.exercise.starter

    @property
    def data_dir(self) -> Path:
        return self.exercise_dir / "data"


@dataclass(frozen=True)
class Course:
    """Everything authored under exercises/, keyed by lesson slug; graders/ beside it."""

    root: Path
    lessons: dict[str, Lesson] = field(default_factory=dict)
    quizzes: dict[str, Quiz] = field(default_factory=dict)
    exercises: dict[str, Exercise] = field(default_factory=dict)
    graders_dir: Path | None = None  # graders/<slug>/: read by the workers, never by the web

    def ordered_lessons(self) -> list[Lesson]:
        return sorted(self.lessons.values(), key=lambda lesson: (lesson.meta.order, lesson.title))

    def find_exercise(self, slug: str, *, for_grading: bool = False) -> ExerciseFiles:
        """The exercise called `slug` with its folders; raises UnknownExercise.

        `for_grading` also requires its grader suite (graders/<slug>/) to exist.
        """
        exercise = self.exercises.get(slug)
        if exercise is None:
            known = ", ".join(sorted(self.exercises)) or "none yet"
            raise UnknownExercise(
                f"There is no exercise called '{slug[:100]}'. Known exercises: {known}."
            )
        graders = self.graders_dir or self.root.parent / "graders"
        files = ExerciseFiles(
            slug, exercise, (self.root / slug).resolve(), (graders / slug).resolve()
        )
        if for_grading and not files.grader_dir.is_dir():
            raise UnknownExercise(
                f"Exercise '{slug}' has no grader suite: {files.grader_dir} is missing."
            )
        return files


def _lesson_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _check_quiz_sections(path: Path, quiz: Quiz, lesson: Lesson) -> list[ContentError]:
    """A question's `section` must be an anchor that exists on its lesson page."""
    errors = []
    text = path.read_text(encoding="utf-8")
    for index, question in enumerate(quiz.questions):
        section = getattr(question, "section", "") or ""
        if section and section not in lesson.anchors:
            line = locate_toml(text, ("questions", index, "section"))
            known = ", ".join(sorted(lesson.anchors))
            errors.append(
                ContentError(
                    path,
                    line,
                    f"questions.{index}.section: '{section}' is not an anchor of lesson "
                    f"'{lesson.slug}' (known anchors: {known})",
                )
            )
    return errors


T = TypeVar("T")


def _optional(path: Path, load: Callable[[Path], T], errors: list[ContentError]) -> T | None:
    """Load an optional file of a lesson folder, collecting its errors instead of raising."""
    if not path.is_file():
        return None
    try:
        return load(path)
    except ContentErrors as exc:
        errors.extend(exc.errors)
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(ContentError(path, None, f"cannot read file: {exc}"))
    return None


def load_course(exercises_dir: Path, *, graders_dir: Path | None = None) -> Course:
    """Load and validate every lesson, quiz and exercise; raises ContentErrors listing them all.

    `graders_dir` is where `find_exercise(..., for_grading=True)` finds each grader suite
    (default: graders/ beside exercises/).
    """
    root = Path(exercises_dir)
    if not root.is_dir():
        raise ContentErrors(
            [
                ContentError(
                    root, None, "the exercises directory does not exist (SERVELAB_EXERCISES_DIR)"
                )
            ]
        )
    course = Course(root=root, graders_dir=graders_dir)
    errors: list[ContentError] = []
    for folder in _lesson_folders(root):
        lesson_path = folder / LESSON_FILE
        if not lesson_path.is_file():
            errors.append(
                ContentError(lesson_path, None, "missing lesson.md in this lesson folder")
            )
            continue
        try:
            lesson = load_lesson(lesson_path)
        except ContentErrors as exc:
            errors.extend(exc.errors)
            lesson = None
        if lesson is not None:
            if lesson.slug != folder.name:
                errors.append(
                    ContentError(
                        lesson_path,
                        _line_of(lesson_path, "slug"),
                        f"front matter slug '{lesson.slug}' must match the folder name "
                        f"'{folder.name}'",
                    )
                )
            else:
                course.lessons[lesson.slug] = lesson
        quiz = _optional(folder / QUIZ_FILE, load_quiz, errors)
        if quiz is not None:
            course.quizzes[folder.name] = quiz
        exercise = _optional(folder / EXERCISE_FILE, load_exercise, errors)
        if exercise is not None:
            course.exercises[folder.name] = exercise
    for slug, quiz in course.quizzes.items():
        if slug in course.lessons:
            errors.extend(_check_quiz_sections(root / slug / QUIZ_FILE, quiz, course.lessons[slug]))
    if errors:
        raise ContentErrors(errors)
    return course


def load_settings_course(settings: Settings) -> Course:
    """The course `settings` name (exercises/ and graders/); raises ContentErrors."""
    return load_course(settings.exercises_dir, graders_dir=settings.graders_dir)


def _line_of(path: Path, key: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.split("=")[0].strip() == key:
            return number
    return None
