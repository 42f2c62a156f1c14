"""What a learner may see about an attempt: questions as presented, and after submission
the score per question, plus answers, explanations and feedback when the quiz allows."""

from __future__ import annotations

from dataclasses import dataclass, field

from servelab.content.quiz import AnyQuestion, MultipleChoice, Quiz, SingleChoice, TrueFalse
from servelab.quiz.scoring import QuestionScore, Response, correct_response
from servelab.quiz.shuffle import PresentedQuestion, presentation


def section_url(slug: str, question: AnyQuestion) -> str:
    return f"/lessons/{slug}#{question.section}"


@dataclass(frozen=True)
class ReviewItem:
    number: int
    presented: PresentedQuestion
    response: Response
    score: QuestionScore | None
    revealed: bool
    section_url: str
    correct_answer: Response = None
    explanation: str = ""
    feedback: list[str] = field(default_factory=list)

    @property
    def question(self) -> AnyQuestion:
        return self.presented.question

    @property
    def status(self) -> str:
        """correct | partial | incorrect | unanswered."""
        if self.response is None or self.response == []:
            return "unanswered"
        return self.score.status if self.score else "incorrect"

    @property
    def chosen(self) -> set[str]:
        if isinstance(self.response, list):
            return set(self.response)
        return {self.response} if self.response else set()

    @property
    def correct_ids(self) -> set[str]:
        if isinstance(self.correct_answer, list):
            return set(self.correct_answer)
        return {self.correct_answer} if isinstance(self.correct_answer, str) else set()


def _feedback(question: AnyQuestion, response: Response) -> list[str]:
    chosen = set(response) if isinstance(response, list) else {response}
    if isinstance(question, SingleChoice | MultipleChoice):
        return [o.feedback for o in question.options if o.id in chosen and o.feedback]
    if isinstance(question, TrueFalse):
        text = question.feedback_true if response == "true" else question.feedback_false
        return [text] if response and text else []
    return []


def review(
    quiz: Quiz,
    slug: str,
    *,
    seed: int,
    responses: dict[str, Response],
    scores: list[QuestionScore] | None,
    revealed: bool,
) -> list[ReviewItem]:
    """Items in the order the attempt showed them; answer key only when `revealed`."""
    by_id = {s.question_id: s for s in scores or []}
    items = []
    for number, presented in enumerate(presentation(quiz, seed), start=1):
        question = presented.question
        response = responses.get(question.id)
        items.append(
            ReviewItem(
                number=number,
                presented=presented,
                response=response,
                score=by_id.get(question.id) if scores is not None else None,
                revealed=revealed,
                section_url=section_url(slug, question),
                correct_answer=correct_response(question) if revealed else None,
                explanation=question.explanation if revealed else "",
                feedback=_feedback(question, response) if revealed else [],
            )
        )
    return items
