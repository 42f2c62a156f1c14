"""Turning raw answers into validated responses, and responses into points.

A response is what one learner answered to one question, normalised:
single/true_false/numeric/text/code_output -> str (or None when blank), multiple -> sorted
list of option ids. Validation refuses what cannot be an answer to the question (an
unknown question or option id, a list for a single choice); a wrong answer is not an
error, it just earns nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servelab.content.quiz import (
    AnyQuestion,
    CodeOutput,
    MultipleChoice,
    Numeric,
    PartialCredit,
    Quiz,
    ShortText,
    SingleChoice,
    TextMatch,
    TrueFalse,
)
from servelab.listing import bounded_join, head, more_line

Response = str | list[str] | None
MAX_TEXT_LENGTH = 5000
_EPSILON = 1e-9
_SHOWN_ID = 80  # characters of an unknown question id quoted back


@dataclass(frozen=True)
class AnswerProblem:
    question_id: str
    message: str


class InvalidAnswers(ValueError):
    """Answers that cannot belong to this quiz; each problem names its question.

    `shown` is what a person gets back: the first `listing.MAX_LISTED` problems, with question
    ids (chosen by whoever sent the answers) cut short; `left_out` counts the rest.
    """

    def __init__(self, problems: list[AnswerProblem]) -> None:
        self.problems = problems
        first, self.left_out = head(problems)
        self.shown = [AnswerProblem(p.question_id[:_SHOWN_ID], p.message) for p in first]
        lines = [f"{p.question_id}: {p.message}" for p in self.shown]
        super().__init__("; ".join([*lines, more_line(self.left_out)] if self.left_out else lines))


@dataclass(frozen=True)
class QuestionScore:
    question_id: str
    earned: float
    points: float
    note: str = ""

    @property
    def correct(self) -> bool:
        return self.earned >= self.points - _EPSILON

    @property
    def status(self) -> str:
        if self.correct:
            return "correct"
        return "partial" if self.earned > _EPSILON else "incorrect"


def normalize_answers(quiz: Quiz, raw: Mapping[str, Any]) -> dict[str, Response]:
    """Validate raw answers (JSON values or form strings) against the quiz.

    Unanswered questions are simply absent. Raises InvalidAnswers listing every problem.
    """
    problems: list[AnswerProblem] = []
    out: dict[str, Response] = {}
    for question_id, value in raw.items():
        question = quiz.question(question_id)
        if question is None:
            problems.append(AnswerProblem(question_id, "no question with this id in this quiz"))
            continue
        try:
            response = normalize_response(question, value)
        except ValueError as exc:
            problems.append(AnswerProblem(question_id, str(exc)))
            continue
        if response is not None:
            out[question_id] = response
    if problems:
        raise InvalidAnswers(problems)
    return out


def normalize_response(question: AnyQuestion, value: Any) -> Response:
    """One raw value -> Response, or ValueError saying why it cannot be an answer."""
    if isinstance(question, MultipleChoice):
        if value is None:
            return None
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("expected a list of option ids")
        ids = {o.id for o in question.options}
        unknown = sorted({v for v in values if v not in ids})
        if unknown:
            quoted = [repr(v[:_SHOWN_ID]) for v in unknown]
            raise ValueError(f"unknown option ids [{bounded_join(quoted, ', ', noun='ids')}]")
        return sorted(set(values))
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError("expected one answer, got a list")
        value = value[0]
    if value is None:
        return None
    if isinstance(question, SingleChoice):
        if not isinstance(value, str):
            raise ValueError("expected an option id")
        if value == "":
            return None
        if value not in {o.id for o in question.options}:
            raise ValueError(f"unknown option id {value[:_SHOWN_ID]!r}")
        return value
    if isinstance(question, TrueFalse):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
            return value.strip().lower() or None
        raise ValueError("expected true or false")
    if isinstance(question, Numeric):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("expected a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("expected a finite number (NaN and Infinity are not answers)")
        text = str(value).strip()
        if len(text) > 100:
            raise ValueError("a number of at most 100 characters")
        return text or None
    if not isinstance(value, str):
        raise ValueError("expected text")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"answers are limited to {MAX_TEXT_LENGTH} characters")
    return value if value.strip() else None


def parse_number(text: str, unit: str = "") -> float | None:
    """Read a learner's number: `0.25`, `0,25`, `1e-3`, `1_000`, `120 ms` (with unit ms)."""
    cleaned = text.strip()
    if unit and cleaned.lower().endswith(unit.lower()):
        cleaned = cleaned[: -len(unit)].strip()
    cleaned = cleaned.replace("_", "").replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def normalize_output(text: str) -> str:
    """Printed output compared line by line, with runs of spaces and blank lines ignored."""
    lines = (" ".join(line.split()) for line in text.strip().splitlines())
    return "\n".join(line for line in lines if line)


def _text_matches(question: ShortText, answer: str) -> bool:
    given = answer.strip()
    if question.match == TextMatch.REGEX:
        return any(re.fullmatch(p, given) for p in question.accepted)
    if question.match == TextMatch.EXACT:
        return given in (a.strip() for a in question.accepted)
    folded = " ".join(given.split()).casefold()
    return folded in (" ".join(a.split()).casefold() for a in question.accepted)


def _multiple_fraction(question: MultipleChoice, chosen: list[str]) -> float:
    correct = set(question.answers)
    picked = set(chosen)
    if question.partial_credit == PartialCredit.ALL_OR_NOTHING:
        return 1.0 if picked == correct else 0.0
    wrong_options = len(question.options) - len(correct)
    right = len(picked & correct) / len(correct)
    wrong = len(picked - correct) / wrong_options if wrong_options else 0.0
    return max(0.0, right - wrong)


def score_question(question: AnyQuestion, response: Response) -> QuestionScore:
    """Points earned by one response; `note` explains an answer that could not be read."""

    def scored(fraction: float, note: str = "") -> QuestionScore:
        earned = round(question.points * fraction, 6)
        return QuestionScore(question.id, earned, question.points, note)

    if response is None or response == []:
        return scored(0.0, "not answered")
    if isinstance(question, MultipleChoice):
        assert isinstance(response, list)
        return scored(_multiple_fraction(question, response))
    assert isinstance(response, str)
    if isinstance(question, SingleChoice):
        return scored(1.0 if response == question.answer else 0.0)
    if isinstance(question, TrueFalse):
        return scored(1.0 if (response == "true") == question.answer else 0.0)
    if isinstance(question, Numeric):
        number = parse_number(response, question.unit)
        if number is None:
            return scored(0.0, f"'{response}' could not be read as a number")
        allowed = question.tolerance + _EPSILON * max(1.0, abs(question.answer))
        return scored(1.0 if abs(number - question.answer) <= allowed else 0.0)
    if isinstance(question, ShortText):
        return scored(1.0 if _text_matches(question, response) else 0.0)
    if isinstance(question, CodeOutput):
        same = normalize_output(response) == normalize_output(question.expected_output)
        return scored(1.0 if same else 0.0)
    raise TypeError(f"unsupported question type {type(question).__name__}")


def score_quiz(quiz: Quiz, responses: Mapping[str, Response]) -> list[QuestionScore]:
    """One score per question of the quiz, in authored order (absent = unanswered)."""
    return [score_question(q, responses.get(q.id)) for q in quiz.questions]


def correct_response(question: AnyQuestion) -> Response:
    """The answer key in Response form, for review pages once answers may be shown."""
    if isinstance(question, SingleChoice):
        return question.answer
    if isinstance(question, MultipleChoice):
        return sorted(question.answers)
    if isinstance(question, TrueFalse):
        return "true" if question.answer else "false"
    if isinstance(question, Numeric):
        tolerance = f" ± {question.tolerance:g}" if question.tolerance else ""
        unit = f" {question.unit}" if question.unit else ""
        return f"{question.answer:g}{tolerance}{unit}"
    if isinstance(question, ShortText):
        return question.accepted[0] if question.match != TextMatch.REGEX else None
    return question.expected_output
