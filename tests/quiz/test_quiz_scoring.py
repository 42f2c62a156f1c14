"""Scoring per question type, partial credit edge cases, and answer validation."""

from __future__ import annotations

from typing import Any

import pytest

from servelab.content.quiz import Quiz
from servelab.quiz.scoring import (
    InvalidAnswers,
    normalize_answers,
    normalize_output,
    parse_number,
    score_question,
    score_quiz,
)

BASE = {"explanation": "e", "section": "leakage", "prompt": "p"}
OPTIONS = [{"id": i, "text": i.upper()} for i in ("a", "b", "c", "d", "e")]


def _quiz(*questions: dict[str, Any]) -> Quiz:
    return Quiz.model_validate({"title": "T", "questions": [{**BASE, **q} for q in questions]})


SINGLE = {"id": "s", "answer": "b", "options": OPTIONS[:4], "points": 2}
MULTI = {"id": "m", "type": "multiple", "answers": ["a", "b"], "options": OPTIONS[:5], "points": 3}
STRICT_MULTI = {**MULTI, "id": "m2", "partial_credit": "all_or_nothing"}
TRUE_FALSE = {"id": "tf", "type": "true_false", "answer": False}
NUMERIC = {"id": "n", "type": "numeric", "answer": 0.78, "tolerance": 0.005, "unit": "ms"}
EXACT = {"id": "x", "type": "text", "accepted": ["422"], "match": "exact"}
FOLDED = {"id": "ci", "type": "text", "accepted": ["Data Leakage"], "match": "case_insensitive"}
REGEX = {
    "id": "re",
    "type": "text",
    "accepted": [r"extra\s*=\s*['\"]?forbid['\"]?"],
    "match": "regex",
}
CODE = {"id": "c", "type": "code_output", "code": "print(1)", "expected_output": "4 3\nTrue\n"}

QUIZ = _quiz(SINGLE, MULTI, STRICT_MULTI, TRUE_FALSE, NUMERIC, EXACT, FOLDED, REGEX, CODE)


def earned(question_id: str, response: Any) -> float:
    question = QUIZ.question(question_id)
    assert question is not None
    return score_question(question, response).earned


def test_single_choice() -> None:
    assert earned("s", "b") == 2
    assert earned("s", "a") == 0
    assert earned("s", None) == 0


@pytest.mark.parametrize(
    ("chosen", "points"),
    [
        (["a", "b"], 3.0),  # exactly right
        (["a"], 1.5),  # half the correct options, no wrong one
        (["a", "b", "c"], 2.0),  # all right, one of three wrong options: 1 - 1/3
        (["a", "c"], 0.5),  # 1/2 - 1/3 = 1/6 of 3 points
        (["a", "c", "d"], 0.0),  # 1/2 - 2/3 < 0: floored at zero, never negative
        (["a", "b", "c", "d", "e"], 0.0),  # choosing everything earns nothing
        (["c", "d", "e"], 0.0),
        ([], 0.0),
    ],
)
def test_multiple_choice_right_minus_wrong(chosen: list[str], points: float) -> None:
    assert earned("m", chosen) == pytest.approx(points, abs=1e-6)


def test_multiple_choice_all_or_nothing() -> None:
    assert earned("m2", ["a", "b"]) == 3
    assert earned("m2", ["a"]) == 0
    assert earned("m2", ["a", "b", "c"]) == 0


def test_multiple_choice_where_every_option_is_correct_has_no_penalty() -> None:
    quiz = _quiz({"id": "all", "type": "multiple", "answers": ["a", "b"], "options": OPTIONS[:2]})
    question = quiz.questions[0]
    assert score_question(question, ["a"]).earned == 0.5  # type: ignore[arg-type]
    assert score_question(question, ["a", "b"]).status == "correct"  # type: ignore[arg-type]


def test_partial_status() -> None:
    question = QUIZ.question("m")
    assert question is not None
    assert score_question(question, ["a"]).status == "partial"
    assert score_question(question, ["c"]).status == "incorrect"
    assert score_question(question, ["a", "b"]).status == "correct"


def test_true_false() -> None:
    assert earned("tf", "false") == 1
    assert earned("tf", "true") == 0


@pytest.mark.parametrize(
    ("text", "points"),
    [
        ("0.78", 1),
        ("0.784", 1),  # within the tolerance
        ("0.7751", 1),
        ("0.786", 0),  # just outside
        ("0,78", 1),  # decimal comma
        ("7.8e-1", 1),
        (" 0.78 ms ", 1),  # the question's unit is allowed
        ("78%", 0),
        ("nan", 0),
        ("inf", 0),
        ("abc", 0),
    ],
)
def test_numeric_with_tolerance(text: str, points: int) -> None:
    assert earned("n", text) == points


def test_numeric_note_explains_unreadable_answers() -> None:
    question = QUIZ.question("n")
    assert question is not None
    assert "could not be read as a number" in score_question(question, "abc").note


def test_numeric_exact_answer_tolerates_float_noise() -> None:
    quiz = _quiz({"id": "z", "type": "numeric", "answer": 0.3})
    assert score_question(quiz.questions[0], "0.30000000000000004").earned == 1  # type: ignore[arg-type]
    assert parse_number("1_000") == 1000


def test_short_text_modes() -> None:
    assert earned("x", " 422 ") == 1
    assert earned("x", "422 Unprocessable") == 0
    assert earned("ci", "data   leakage") == 1
    assert earned("ci", "DATA LEAKAGE") == 1
    assert earned("ci", "leakage") == 0
    assert earned("re", "extra='forbid'") == 1
    assert earned("re", 'extra = "forbid"') == 1
    assert earned("re", "extra=forbid, strict=True") == 0  # the pattern must match it all


def test_code_output_is_compared_after_normalising_whitespace() -> None:
    assert earned("c", "4 3\nTrue") == 1
    assert earned("c", "  4    3 \n\n True  \n") == 1
    assert earned("c", "4\n3\nTrue") == 0
    assert earned("c", "4 3 True") == 0
    assert normalize_output("\r\n a  b \r\n\r\n") == "a b"


def test_score_quiz_counts_missing_answers_as_zero() -> None:
    scores = score_quiz(QUIZ, {"s": "b"})
    assert [s.question_id for s in scores] == [q.id for q in QUIZ.questions]
    assert sum(s.earned for s in scores) == 2
    assert scores[1].note == "not answered"


def test_normalize_answers_accepts_json_and_form_shapes() -> None:
    responses = normalize_answers(
        QUIZ,
        {
            "s": ["b"],  # a form field arrives as a one-item list
            "m": ["b", "a", "a"],
            "tf": False,
            "n": 0.78,
            "x": "",  # blank: unanswered
        },
    )
    assert responses == {"s": "b", "m": ["a", "b"], "tf": "false", "n": "0.78"}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"nope": "a"}, "no question with this id"),
        ({"s": "z"}, "unknown option id 'z'"),
        ({"m": ["a", "zz"]}, "unknown option ids ['zz']"),
        ({"s": ["a", "b"]}, "expected one answer"),
        ({"m": 3}, "expected a list of option ids"),
        ({"tf": "maybe"}, "expected true or false"),
        ({"n": True}, "expected a number"),
        ({"x": ["a"] * 1 + [1]}, "expected one answer"),
        ({"c": "x" * 5001}, "limited to 5000"),
    ],
)
def test_normalize_answers_refuses_what_cannot_be_an_answer(
    raw: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidAnswers) as info:
        normalize_answers(QUIZ, raw)
    assert fragment in str(info.value)
