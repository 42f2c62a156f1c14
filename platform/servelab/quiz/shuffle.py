"""What one attempt shows, in which order: derived from the seed stored on the attempt.

The same seed always gives the same order, so a review shows exactly what the learner saw.
Each question's options are shuffled by their own generator (seeded with the attempt seed
and the question id), so editing one question does not reshuffle the others.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from servelab.content.quiz import AnyQuestion, MultipleChoice, Option, Quiz, SingleChoice


@dataclass(frozen=True)
class PresentedQuestion:
    question: AnyQuestion
    options: tuple[Option, ...]  # empty for questions without options


def _options(question: AnyQuestion) -> list[Option]:
    if isinstance(question, SingleChoice | MultipleChoice):
        return list(question.options)
    return []


def presentation(quiz: Quiz, seed: int | None) -> list[PresentedQuestion]:
    """Questions and their options in the order this attempt shows them (None = authored)."""
    questions: list[AnyQuestion] = list(quiz.questions)
    if seed is not None and quiz.shuffle_questions:
        random.Random(f"{seed}:questions").shuffle(questions)
    presented = []
    for question in questions:
        options = _options(question)
        if seed is not None and quiz.shuffle_options:
            random.Random(f"{seed}:{question.id}").shuffle(options)
        presented.append(PresentedQuestion(question, tuple(options)))
    return presented
