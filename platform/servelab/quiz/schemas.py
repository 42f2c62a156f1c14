"""The quiz JSON API's request and response bodies. None of the public models carries an
answer key, an explanation or per-option feedback before submission."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from servelab.content.quiz import (
    MultipleChoice,
    Quiz,
    ShowAnswers,
    SingleChoice,
)
from servelab.db.models.quiz import QuizAttempt
from servelab.quiz.review import ReviewItem, section_url
from servelab.quiz.shuffle import PresentedQuestion, presentation

AnswerValue = str | bool | float | list[str] | None


def copied(source: object, model: type[BaseModel], **given: Any) -> dict[str, Any]:
    """`model`'s fields read from `source` by name (those it has), then `given`.

    Only the fields a public model declares are read, so an answer key on the source never
    comes along.
    """
    names = [n for n in model.model_fields if n not in given and hasattr(source, n)]
    return {n: getattr(source, n) for n in names} | given


class OptionPublic(BaseModel):
    id: str
    text: str


class QuestionPublic(BaseModel):
    id: str
    type: str = Field(description="single | multiple | true_false | numeric | text | code_output")
    prompt: str
    points: float
    section_url: str = Field(description="The lesson section this question tests.")
    options: list[OptionPublic] | None = Field(
        None, description="For single and multiple choice, in the order this attempt shows them."
    )
    code: str | None = Field(None, description="For code_output: the code whose output to give.")
    language: str | None = None
    unit: str | None = Field(None, description="For numeric: the unit of the expected number.")
    scoring_rule: str | None = Field(None, description="For multiple: how partial credit works.")

    @classmethod
    def build(cls, slug: str, presented: PresentedQuestion) -> QuestionPublic:
        q = presented.question
        options = (
            [OptionPublic(id=o.id, text=o.text) for o in presented.options]
            if isinstance(q, SingleChoice | MultipleChoice)
            else None
        )
        return cls(**copied(q, cls, section_url=section_url(slug, q), options=options))


class QuizPublic(BaseModel):
    slug: str
    title: str
    description: str
    pass_mark: float
    max_score: float
    attempts_allowed: int | None
    time_limit_minutes: float | None
    show_answers: ShowAnswers
    questions: list[QuestionPublic]

    @classmethod
    def build(cls, slug: str, quiz: Quiz) -> QuizPublic:
        questions = [QuestionPublic.build(slug, p) for p in presentation(quiz, None)]
        return cls(**copied(quiz, cls, slug=slug, questions=questions))


class AttemptSummary(BaseModel):
    id: int
    quiz_slug: str
    number: int
    status: str = Field(description="open | submitted | expired")
    started_at: datetime
    deadline_at: datetime | None
    submitted_at: datetime | None
    score: float | None
    max_score: float
    percent: float | None
    passed: bool | None

    @classmethod
    def build(cls, attempt: QuizAttempt) -> AttemptSummary:
        return cls(**copied(attempt, AttemptSummary, id=attempt.id or 0))


class AttemptPublic(AttemptSummary):
    """An attempt with its questions in the order (and option order) it shows them."""

    questions: list[QuestionPublic]


class SubmitAnswers(BaseModel):
    answers: dict[str, AnswerValue] = Field(
        description="Question id -> answer: an option id (single), a list of option ids "
        "(multiple), true/false, a number or text. Leave a question out to skip it."
    )


class QuestionResult(BaseModel):
    question_id: str
    status: str = Field(description="correct | partial | incorrect | unanswered")
    earned: float
    points: float
    your_answer: str | list[str] | None
    note: str = ""
    section_url: str
    correct_answer: str | list[str] | None = Field(
        None, description="Only when the quiz's show_answers setting allows it."
    )
    explanation: str | None = None
    feedback: list[str] = []


class AttemptResult(AttemptSummary):
    answers_revealed: bool
    questions: list[QuestionResult]

    @classmethod
    def from_review(
        cls, attempt: QuizAttempt, items: list[ReviewItem], revealed: bool
    ) -> AttemptResult:
        summary = AttemptSummary.build(attempt).model_dump()
        return cls(
            **summary,
            answers_revealed=revealed,
            questions=[
                QuestionResult(
                    question_id=item.question.id,
                    status=item.status,
                    earned=item.score.earned if item.score else 0.0,
                    points=item.question.points,
                    your_answer=item.response,
                    note=item.score.note if item.score else "",
                    section_url=item.section_url,
                    correct_answer=item.correct_answer if revealed else None,
                    explanation=item.explanation if revealed else None,
                    feedback=item.feedback if revealed else [],
                )
                for item in items
            ],
        )
