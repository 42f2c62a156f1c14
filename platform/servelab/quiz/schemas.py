"""The quiz JSON API's request and response bodies. None of the public models carries an
answer key, an explanation or per-option feedback before submission."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from servelab.content.quiz import (
    CodeOutput,
    MultipleChoice,
    Numeric,
    Quiz,
    ShowAnswers,
    SingleChoice,
)
from servelab.db.models.quiz import QuizAttempt
from servelab.quiz.review import ReviewItem, section_url
from servelab.quiz.shuffle import PresentedQuestion, presentation

AnswerValue = str | bool | float | list[str] | None


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
        return cls(
            id=q.id,
            type=q.type,
            prompt=q.prompt,
            points=q.points,
            section_url=section_url(slug, q),
            options=[OptionPublic(id=o.id, text=o.text) for o in presented.options]
            if isinstance(q, SingleChoice | MultipleChoice)
            else None,
            code=q.code if isinstance(q, CodeOutput) else None,
            language=q.language if isinstance(q, CodeOutput) else None,
            unit=q.unit if isinstance(q, Numeric) else None,
            scoring_rule=q.scoring_rule if isinstance(q, MultipleChoice) else None,
        )


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
        return cls(
            slug=slug,
            title=quiz.title,
            description=quiz.description,
            pass_mark=quiz.pass_mark,
            max_score=quiz.max_score,
            attempts_allowed=quiz.attempts_allowed,
            time_limit_minutes=quiz.time_limit_minutes,
            show_answers=quiz.show_answers,
            questions=[QuestionPublic.build(slug, p) for p in presentation(quiz, None)],
        )


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
        return cls(
            id=attempt.id or 0,
            quiz_slug=attempt.quiz_slug,
            number=attempt.number,
            status=attempt.status,
            started_at=attempt.started_at,
            deadline_at=attempt.deadline_at,
            submitted_at=attempt.submitted_at,
            score=attempt.score,
            max_score=attempt.max_score,
            percent=attempt.percent,
            passed=attempt.passed,
        )


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
