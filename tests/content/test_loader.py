"""The course loader: every authoring mistake names its file and line; the real course loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from servelab.content.errors import ContentErrors
from servelab.content.lesson import SECTIONS
from servelab.content.loader import load_course
from servelab.settings import PROJECT_ROOT
from support import FLAGSHIP_TOPICS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"

# case -> (file relative to the case folder, line, words the message must contain)
INVALID = {
    "missing_section": ("tiny/lesson.md", 33, "missing section '## Common mistakes'"),
    "bad_front_matter": ("tiny/lesson.md", 5, "updated"),
    "unknown_key": ("tiny/lesson.md", 7, "unknown key 'author'"),
    "no_front_matter": ("tiny/lesson.md", 1, "front matter"),
    "invalid_toml_front_matter": ("tiny/lesson.md", 2, "invalid TOML in front matter"),
    "quiz_answer_not_option": ("tiny/quiz.toml", 9, "answer 'z' is not among the options"),
    "quiz_invalid_toml": ("tiny/quiz.toml", 6, "invalid TOML"),
    "quiz_unknown_section": ("tiny/quiz.toml", 8, "'no-such-anchor' is not an anchor"),
    "line_out_of_range": ("tiny/lesson.md", 27, "outside the example, which has 2 lines"),
    "unknown_section": ("tiny/lesson.md", 29, "unknown section '## Real world stories'"),
    "sections_out_of_order": ("tiny/lesson.md", 33, "must come before '## Best practices'"),
    "example_without_output": ("tiny/lesson.md", 13, "```output block"),
    "slug_mismatch": ("other/lesson.md", 3, "must match the folder name 'other'"),
    "exercise_unknown_key": ("tiny/exercise.toml", 2, "unknown key 'timeout'"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_content_names_file_and_line(case: str) -> None:
    relative, line, words = INVALID[case]
    with pytest.raises(ContentErrors) as caught:
        load_course(FIXTURES / case)
    expected_prefix = f"{FIXTURES / case / relative}:{line}: "
    messages = [str(e) for e in caught.value.errors]
    assert any(m.startswith(expected_prefix) and words in m for m in messages), messages


def test_every_mistake_is_reported_in_one_pass() -> None:
    with pytest.raises(ContentErrors) as caught:
        load_course(FIXTURES / "several_errors")
    where = sorted(f"{e.path.name}:{e.line}" for e in caught.value.errors)
    assert where == ["lesson.md:60", "lesson.md:7", "quiz.toml:9"]


def test_missing_exercises_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ContentErrors, match="does not exist"):
        load_course(tmp_path / "nowhere")


def test_folder_without_lesson_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "draft").mkdir()
    with pytest.raises(ContentErrors, match="missing lesson.md"):
        load_course(tmp_path)


def test_valid_fixture_loads_lesson_and_quiz() -> None:
    course = load_course(FIXTURES / "valid")
    assert list(course.lessons) == ["tiny"]
    assert list(course.quizzes) == ["tiny"]
    lesson = course.lessons["tiny"]
    assert lesson.example.expected_output == "42\n"
    assert [n.start for n in lesson.line_notes] == [1, 2]


def test_the_real_course_loads_cleanly() -> None:
    course = load_course(PROJECT_ROOT / "exercises")
    lesson = course.lessons["fastapi-for-ml-apis"]
    assert list(lesson.sections) == [anchor for anchor, _ in SECTIONS]
    assert set(FLAGSHIP_TOPICS) <= lesson.anchors
