"""quiz.toml: the flagship quiz is complete and valid; authoring mistakes name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from quiz_helpers import FLAGSHIP_DIR

from servelab.content.errors import ContentErrors
from servelab.content.lesson import load_lesson
from servelab.content.quiz import QUESTION_TYPES, SingleChoice, load_quiz


def test_flagship_quiz_covers_every_type_and_topic() -> None:
    quiz = load_quiz(FLAGSHIP_DIR / "quiz.toml")
    lesson = load_lesson(FLAGSHIP_DIR / "lesson.md")
    assert len(quiz.questions) >= 10
    assert {q.type for q in quiz.questions} == set(QUESTION_TYPES)
    sections = {q.section for q in quiz.questions}
    assert sections <= lesson.anchors
    for topic in (
        "data-contract",
        "input-validation",
        "leakage",
        "baseline",
        "temporal-split",
        "slices",
        "latency-and-monitoring",
    ):
        assert topic in sections, topic
    assert all(q.explanation.strip() for q in quiz.questions)
    flagship = [q for q in quiz.questions if "best supports FastAPI for ML APIs" in q.prompt]
    assert len(flagship) == 1 and isinstance(flagship[0], SingleChoice)
    assert len(flagship[0].options) == 4
    assert all(o.feedback for o in flagship[0].options)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quiz.toml"
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    with pytest.raises(ContentErrors) as info:
        load_quiz(path)
    return [str(e) for e in info.value.errors]


QUESTION = """
[[questions]]
id = "q1"
prompt = "Pick one"
explanation = "Because."
section = "leakage"
answer = "a"
options = [{ id = "a", text = "A" }, { id = "b", text = "B" }]
"""


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        # an unknown top-level key, on line 2
        ('title = "T"\nshufle = true\n' + QUESTION, 2, "unknown key 'shufle'"),
        # the answer is not an option: the answer line of question 1
        ('title = "T"\n' + QUESTION.replace('answer = "a"', 'answer = "z"'), 8, "answer 'z'"),
        # an unknown question type: the type line
        (
            'title = "T"\n' + QUESTION.replace('id = "q1"', 'id = "q1"\ntype = "essay"'),
            5,
            "unknown question type 'essay'",
        ),
        # a section that is not an anchor id
        (
            'title = "T"\n' + QUESTION.replace('"leakage"', '"Leakage section"'),
            7,
            "lesson section anchor",
        ),
        # the second question reuses the first one's id
        ('title = "T"\n' + QUESTION + QUESTION, 12, "already used"),
        # a regular expression that does not compile
        (
            'title = "T"\n[[questions]]\nid = "t"\ntype = "text"\nprompt = "p"\n'
            'explanation = "e"\nsection = "leakage"\nmatch = "regex"\naccepted = ["(unclosed"]\n',
            9,
            "not a valid regex",
        ),
        # a missing explanation: points at the question's header
        ('title = "T"\n' + QUESTION.replace('explanation = "Because."\n', ""), 3, "explanation"),
        # invalid TOML
        ('title = "T\n' + QUESTION, 1, "invalid TOML"),
        # after_last_attempt without an attempts limit
        ('title = "T"\nshow_answers = "after_last_attempt"\n' + QUESTION, None, "attempts_allowed"),
    ],
)
def test_authoring_errors_name_file_and_line(
    tmp_path: Path, body: str, line: int | None, fragment: str
) -> None:
    path = _write(tmp_path, body)
    errors = _errors(path)
    where = f"{path}:{line}:" if line else f"{path}:"
    assert any(e.startswith(where) and fragment in e for e in errors), errors


def test_options_written_as_tables_are_located(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
title = "T"

[[questions]]
id = "q1"
type = "multiple"
prompt = "Pick"
explanation = "e"
section = "slices"
answers = ["a"]

[[questions.options]]
id = "a"
text = "A"

[[questions.options]]
id = "b"
txt = "B"
""",
    )
    errors = _errors(path)
    assert any(e.startswith(f"{path}:17:") and "unknown key 'txt'" in e for e in errors), errors
    assert any(e.startswith(f"{path}:15:") and "options.1.text" in e for e in errors), errors
