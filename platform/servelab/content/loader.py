"""Load the whole course (every `exercises/<slug>/` folder) once, reporting every mistake."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from servelab.content.errors import ContentError, ContentErrors, locate_toml
from servelab.content.exercise import Exercise, load_exercise
from servelab.content.lesson import Lesson, load_lesson
from servelab.content.quiz import Quiz, load_quiz

LESSON_FILE = "lesson.md"
QUIZ_FILE = "quiz.toml"
EXERCISE_FILE = "exercise.toml"


@dataclass(frozen=True)
class Course:
    """Everything authored under exercises/, keyed by lesson slug."""

    root: Path
    lessons: dict[str, Lesson] = field(default_factory=dict)
    quizzes: dict[str, Quiz] = field(default_factory=dict)
    exercises: dict[str, Exercise] = field(default_factory=dict)

    def ordered_lessons(self) -> list[Lesson]:
        return sorted(self.lessons.values(), key=lambda lesson: (lesson.meta.order, lesson.title))


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


def load_course(exercises_dir: Path) -> Course:
    """Load and validate every lesson, quiz and exercise; raises ContentErrors listing them all."""
    root = Path(exercises_dir)
    if not root.is_dir():
        raise ContentErrors(
            [
                ContentError(
                    root, None, "the exercises directory does not exist (SERVELAB_EXERCISES_DIR)"
                )
            ]
        )
    course = Course(root=root)
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


def _line_of(path: Path, key: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.split("=")[0].strip() == key:
            return number
    return None
