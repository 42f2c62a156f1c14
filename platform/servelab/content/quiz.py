"""quiz.toml: a lesson's quiz, its settings and its questions (six types).

Owned by the quiz engine. Scoring lives in `servelab.quiz.scoring`; this module only
describes and validates what an instructor authored, with errors naming file and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from servelab.content.errors import ContentError, ContentErrors, read_toml

IDENTIFIER = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
ANCHOR = r"^[a-z0-9][a-z0-9\-]{0,99}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShowAnswers(StrEnum):
    """When learners see correct answers, explanations and per-option feedback."""

    IMMEDIATELY = "immediately"
    AFTER_LAST_ATTEMPT = "after_last_attempt"
    NEVER = "never"


class Option(_Strict):
    id: str = Field(pattern=IDENTIFIER)
    text: str = Field(min_length=1)
    feedback: str = ""


class _QuestionBase(_Strict):
    id: str = Field(pattern=IDENTIFIER)
    prompt: str = Field(min_length=1)
    points: float = Field(1.0, gt=0, le=1000)
    explanation: str = Field(min_length=1, description="Shown after answering.")
    section: str = Field(
        pattern=ANCHOR, description="Lesson section anchor this question tests, e.g. `leakage`."
    )


def _unique_option_ids(options: Sequence[Option]) -> list[str]:
    ids = [o.id for o in options]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"option ids must be unique within a question; repeated: {dupes}")
    return ids


class SingleChoice(_QuestionBase):
    """Exactly one option is right."""

    type: Literal["single"] = "single"
    options: list[Option] = Field(min_length=2, max_length=26)
    answer: str

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> SingleChoice:
        ids = _unique_option_ids(self.options)
        if self.answer not in ids:
            raise ValueError(f"answer '{self.answer}' is not among the options {ids}")
        return self


class PartialCredit(StrEnum):
    """How a multiple-choice answer earns points.

    right_minus_wrong: each correct option chosen earns 1/k of the points (k = number of
    correct options), each wrong option chosen costs 1/(n-k); the total is floored at 0.
    Choosing everything therefore scores 0, and so does choosing nothing.
    all_or_nothing: full points only for exactly the correct set.
    """

    RIGHT_MINUS_WRONG = "right_minus_wrong"
    ALL_OR_NOTHING = "all_or_nothing"


class MultipleChoice(_QuestionBase):
    """Any number of options (at least one) are right; partial credit by `partial_credit`."""

    type: Literal["multiple"] = "multiple"
    options: list[Option] = Field(min_length=2, max_length=26)
    answers: list[str] = Field(min_length=1)
    partial_credit: PartialCredit = PartialCredit.RIGHT_MINUS_WRONG

    @property
    def scoring_rule(self) -> str:
        """The partial-credit rule in words, shown to learners next to the question."""
        if self.partial_credit == PartialCredit.ALL_OR_NOTHING:
            return "Full points only for choosing exactly the right options."
        return (
            "Partial credit: each right option you choose earns its share of the points, "
            "each wrong one costs its share; the score never drops below zero."
        )

    @model_validator(mode="after")
    def _answers_are_options(self) -> MultipleChoice:
        ids = _unique_option_ids(self.options)
        unknown = [a for a in self.answers if a not in ids]
        if unknown:
            raise ValueError(f"answers {unknown} are not among the options {ids}")
        if len(set(self.answers)) != len(self.answers):
            raise ValueError("answers must not repeat an option id")
        return self


class TrueFalse(_QuestionBase):
    type: Literal["true_false"]
    answer: bool
    feedback_true: str = Field("", description="Feedback for a learner who answered true.")
    feedback_false: str = Field("", description="Feedback for a learner who answered false.")


class Numeric(_QuestionBase):
    """A number, right when within `tolerance` (absolute) of `answer`."""

    type: Literal["numeric"]
    answer: float
    tolerance: float = Field(0.0, ge=0)
    unit: str = ""


class TextMatch(StrEnum):
    EXACT = "exact"
    CASE_INSENSITIVE = "case_insensitive"
    REGEX = "regex"


class ShortText(_QuestionBase):
    """Free text, right when it matches one of `accepted` (surrounding spaces ignored).

    With `match = "regex"` each accepted entry is a Python regular expression that must
    match the whole answer.
    """

    type: Literal["text"]
    accepted: list[str] = Field(min_length=1)
    match: TextMatch = TextMatch.CASE_INSENSITIVE

    @model_validator(mode="after")
    def _regexes_compile(self) -> ShortText:
        if self.match == TextMatch.REGEX:
            for pattern in self.accepted:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(
                        f"accepted pattern {pattern!r} is not a valid regex: {exc}"
                    ) from exc
        return self


class CodeOutput(_QuestionBase):
    """ "What does this code print?": compared after normalising whitespace."""

    type: Literal["code_output"]
    code: str = Field(min_length=1)
    language: str = "python"
    expected_output: str

    @field_validator("expected_output")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected_output must not be blank")
        return value


QUESTION_TYPES = ("single", "multiple", "true_false", "numeric", "text", "code_output")


def _question_type(value: Any) -> str:
    raw = value.get("type", "single") if isinstance(value, dict) else getattr(value, "type", "")
    return raw if raw in QUESTION_TYPES else "unknown"


class _UnknownType(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    type: str

    @model_validator(mode="after")
    def _refuse(self) -> _UnknownType:
        raise ValueError(f"unknown question type '{self.type}'; use one of {list(QUESTION_TYPES)}")


AnyQuestion = SingleChoice | MultipleChoice | TrueFalse | Numeric | ShortText | CodeOutput
if TYPE_CHECKING:
    # `_UnknownType` only exists to report a misspelt type; it never validates.
    Question = AnyQuestion
else:
    Question = Annotated[
        Annotated[SingleChoice, Tag("single")]
        | Annotated[MultipleChoice, Tag("multiple")]
        | Annotated[TrueFalse, Tag("true_false")]
        | Annotated[Numeric, Tag("numeric")]
        | Annotated[ShortText, Tag("text")]
        | Annotated[CodeOutput, Tag("code_output")]
        | Annotated[_UnknownType, Tag("unknown")],
        Discriminator(_question_type),
    ]
ChoiceQuestion = SingleChoice | MultipleChoice


class Quiz(_Strict):
    """One lesson's quiz. `attempts_allowed` None means unlimited."""

    title: str = Field(min_length=1)
    description: str = ""
    pass_mark: float = Field(0.7, ge=0, le=1, description="Share of the points needed to pass.")
    attempts_allowed: int | None = Field(None, ge=1)
    time_limit_minutes: float | None = Field(None, gt=0, le=24 * 60)
    shuffle_questions: bool = False
    shuffle_options: bool = True
    show_answers: ShowAnswers = ShowAnswers.IMMEDIATELY
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Quiz:
        ids = [q.id for q in self.questions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"question ids must be unique; repeated: {dupes}")
        if self.show_answers == ShowAnswers.AFTER_LAST_ATTEMPT and self.attempts_allowed is None:
            raise ValueError(
                "show_answers = 'after_last_attempt' needs attempts_allowed; with unlimited "
                "attempts there is no last one (use 'never' instead)"
            )
        return self

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    def question(self, question_id: str) -> AnyQuestion | None:
        return next((q for q in self.questions if q.id == question_id), None)


_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\-]+)\s*\]\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


def _locate(text: str, loc: Sequence[str | int]) -> int | None:
    """1-based line for a validation location inside quiz.toml.

    Knows the quiz layout: top-level keys, `[[questions]]` blocks, keys inside them and
    options written either inline or as `[[questions.options]]` blocks.
    """
    lines = text.splitlines()
    parts = _without_tag(loc)
    first_header = next((n for n, line in enumerate(lines) if _HEADER.match(line)), len(lines))

    def key_line(start: int, end: int, key: str) -> int | None:
        for n in range(start, end):
            m = _KEY.match(lines[n])
            if m and m.group(1) == key:
                return n + 1
        return None

    if not parts:
        return None
    if parts[0] != "questions" or len(parts) < 2 or not isinstance(parts[1], int):
        return key_line(0, first_header, str(parts[0]))
    headers = [
        n
        for n, line in enumerate(lines)
        if (m := _HEADER.match(line)) and m.group(1) == "questions"
    ]
    if parts[1] >= len(headers):
        return key_line(0, first_header, "questions")
    start = headers[parts[1]]
    end = headers[parts[1] + 1] if parts[1] + 1 < len(headers) else len(lines)
    if len(parts) < 3:
        return start + 1
    key = str(parts[2])
    if key == "options" and len(parts) >= 4 and isinstance(parts[3], int):
        option_headers = [
            n
            for n in range(start, end)
            if (m := _HEADER.match(lines[n])) and m.group(1) == "questions.options"
        ]
        if parts[3] < len(option_headers):
            o_start = option_headers[parts[3]]
            o_end = next((n for n in option_headers if n > o_start), end)
            if len(parts) >= 5:
                return key_line(o_start + 1, o_end, str(parts[4])) or o_start + 1
            return o_start + 1
    block_end = next((n for n in range(start + 1, end) if lines[n].lstrip().startswith("[")), end)
    return key_line(start + 1, block_end, key) or start + 1


def _without_tag(loc: Sequence[str | int]) -> list[str | int]:
    """Remove the union tag pydantic puts after `questions.N` (`questions.0.single.answer`)."""
    parts = list(loc)
    if len(parts) >= 3 and parts[0] == "questions" and parts[2] in (*QUESTION_TYPES, "unknown"):
        if parts[2] == "unknown" and len(parts) == 3:
            parts[2] = "type"
        else:
            del parts[2]
    return parts


def _duplicate_question_errors(path: Path, text: str, data: dict[str, Any]) -> list[ContentError]:
    questions = data.get("questions")
    if not isinstance(questions, list):
        return []
    seen: dict[str, int] = {}
    errors = []
    for index, q in enumerate(questions):
        qid = q.get("id") if isinstance(q, dict) else None
        if not isinstance(qid, str):
            continue
        if qid in seen:
            errors.append(
                ContentError(
                    path,
                    _locate(text, ("questions", index, "id")),
                    f"questions.{index}.id: question id '{qid}' is already used by question "
                    f"{seen[qid] + 1}; every question needs its own id",
                )
            )
        else:
            seen[qid] = index
    return errors


def load_quiz(path: Path) -> Quiz:
    """Load and validate quiz.toml; raises ContentErrors naming file and line."""
    text, data = read_toml(path)
    duplicates = _duplicate_question_errors(path, text, data)
    if duplicates:
        raise ContentErrors(duplicates)
    try:
        return Quiz.model_validate(data)
    except ValidationError as exc:
        raise ContentErrors(
            [
                ContentError(path, _locate(text, _with_named_key(err)), _message(err))
                for err in exc.errors()
            ]
        ) from exc


def _with_named_key(err: Any) -> tuple[str | int, ...]:
    """A question-level error whose message starts with a key points at that key's line."""
    loc = tuple(err["loc"])
    parts = _without_tag(loc)
    if len(parts) == 2 and parts[0] == "questions":
        first = str(err.get("msg", "")).removeprefix("Value error, ").split(" ")[0]
        key = "options" if first == "option" else first
        if key in ("answer", "answers", "accepted", "options"):
            return (*loc, key)
    return loc


def _message(err: Any) -> str:
    parts = _without_tag(err["loc"])
    where = ".".join(str(p) for p in parts) or "(quiz)"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key '{parts[-1]}' (check the spelling)"
    if err["type"] == "string_pattern_mismatch" and parts[-1] == "section":
        return f"{where}: must be a lesson section anchor such as 'leakage' or 'data-contract'"
    if err["type"] == "string_pattern_mismatch":
        return f"{where}: use lowercase letters, digits, '-' or '_' (at most 64 characters)"
    if err["type"] == "missing":
        return f"{where}: required key is missing"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"
