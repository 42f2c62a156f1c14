"""Classical item analysis for instructors: facility, discrimination, option distribution.

facility: mean share of the question's points earned (the share correct for 0/1 items).
discrimination: corrected point-biserial correlation, i.e. the Pearson correlation between
the item score (0..1) and the score on the *other* questions, so an item is not credited
for correlating with itself. The upper-lower 27 % index is reported alongside.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from servelab.content.quiz import (
    AnyQuestion,
    CodeOutput,
    MultipleChoice,
    Quiz,
    ShortText,
    SingleChoice,
    TrueFalse,
)
from servelab.quiz.scoring import Response, normalize_output, score_question

EASY_ABOVE = 0.95
HARD_BELOW = 0.2
LOW_DISCRIMINATION_BELOW = 0.1
UPPER_LOWER_SHARE = 0.27
HISTOGRAM_BINS = 10
NO_ANSWER = "(no answer)"


@dataclass(frozen=True)
class ItemResponse:
    earned: float
    points: float
    response: Response


@dataclass(frozen=True)
class ScoredAttempt:
    """One submitted attempt as item analysis sees it."""

    attempt_id: int
    items: dict[str, ItemResponse]

    @property
    def score(self) -> float:
        return sum(i.earned for i in self.items.values())

    @property
    def max_score(self) -> float:
        return sum(i.points for i in self.items.values())

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class OptionCount:
    label: str
    count: int
    correct: bool | None  # None when the response has no single right/wrong status


@dataclass(frozen=True)
class ItemStats:
    question_id: str
    prompt: str
    n: int
    facility: float | None
    discrimination: float | None
    upper_lower: float | None
    distribution: list[OptionCount]
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QuizStats:
    n: int
    mean_percent: float | None
    median_percent: float | None
    histogram: list[int]
    items: list[ItemStats]
    percents: list[float] = field(default_factory=list)  # each attempt's score, for the chart


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation, or None when either variable does not vary (or n < 2)."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sxx * syy)


def upper_lower_index(attempts: Sequence[ScoredAttempt], question_id: str) -> float | None:
    """Mean item score of the top 27 % minus that of the bottom 27 % (by total score)."""
    if len(attempts) < 2:
        return None
    group = max(1, round(UPPER_LOWER_SHARE * len(attempts)))
    ranked = sorted(attempts, key=lambda a: (a.score, a.attempt_id))
    lower, upper = ranked[:group], ranked[-group:]

    def mean_item(rows: Sequence[ScoredAttempt]) -> float:
        return sum(_item_fraction(a, question_id) for a in rows) / len(rows)

    return mean_item(upper) - mean_item(lower)


def _item_fraction(attempt: ScoredAttempt, question_id: str) -> float:
    item = attempt.items.get(question_id)
    return item.earned / item.points if item and item.points else 0.0


def band_labels(bins: int = HISTOGRAM_BINS) -> list[str]:
    """The score bands of `histogram`, as the instructor's table names them."""
    width = 100 // bins
    return [f"{i * width}–{100 if i == bins - 1 else (i + 1) * width - 1} %" for i in range(bins)]


def histogram(percents: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """Counts per score band of 100/bins percent; 100 % falls in the last band."""
    counts = [0] * bins
    for p in percents:
        counts[min(bins - 1, max(0, int(p * bins // 100)))] += 1
    return counts


def _response_label(question: AnyQuestion, response: Response) -> str:
    assert isinstance(response, str)
    if isinstance(question, ShortText):
        return " ".join(response.split()).casefold()[:80]
    if isinstance(question, CodeOutput):
        return normalize_output(response)[:80]
    return response.strip()[:80]


def distribution(question: AnyQuestion, responses: Sequence[Response]) -> list[OptionCount]:
    """How often each option (or, for free answers, each distinct answer) was given."""
    blank = sum(1 for r in responses if r is None or r == [])
    if isinstance(question, SingleChoice | MultipleChoice):
        counts: Counter[str] = Counter()
        for r in responses:
            counts.update([r] if isinstance(r, str) else (r or []))
        correct = {question.answer} if isinstance(question, SingleChoice) else set(question.answers)
        rows = [
            OptionCount(f"{o.id}: {o.text}", counts[o.id], o.id in correct)
            for o in question.options
        ]
    elif isinstance(question, TrueFalse):
        rows = [
            OptionCount(
                label, sum(1 for r in responses if r == label), (label == "true") == question.answer
            )
            for label in ("true", "false")
        ]
    else:
        given = [r for r in responses if r is not None and r != []]
        labels = Counter(_response_label(question, r) for r in given)
        rows = []
        for label, count in labels.most_common(5):
            sample = next(r for r in given if _response_label(question, r) == label)
            rows.append(OptionCount(label, count, score_question(question, sample).correct))
        other = len(given) - sum(r.count for r in rows)
        if other:
            rows.append(OptionCount("(other answers)", other, None))
    rows.append(OptionCount(NO_ANSWER, blank, None))
    return rows


def _flags(facility: float | None, discrimination: float | None) -> list[str]:
    flags = []
    if facility is not None and facility > EASY_ABOVE:
        flags.append(f"very easy: facility above {EASY_ABOVE}")
    if facility is not None and facility < HARD_BELOW:
        flags.append(f"very hard: facility below {HARD_BELOW}")
    if discrimination is not None and discrimination < LOW_DISCRIMINATION_BELOW:
        flags.append(f"low discrimination: below {LOW_DISCRIMINATION_BELOW}")
    return flags


def item_stats(question: AnyQuestion, attempts: Sequence[ScoredAttempt]) -> ItemStats:
    fractions = [_item_fraction(a, question.id) for a in attempts]
    rest = [
        a.score - (a.items[question.id].earned if question.id in a.items else 0.0) for a in attempts
    ]
    facility = sum(fractions) / len(fractions) if fractions else None
    discrimination = pearson(fractions, rest)
    responses = [
        a.items[question.id].response if question.id in a.items else None for a in attempts
    ]
    return ItemStats(
        question_id=question.id,
        prompt=question.prompt,
        n=len(attempts),
        facility=facility,
        discrimination=discrimination,
        upper_lower=upper_lower_index(attempts, question.id),
        distribution=distribution(question, responses),
        flags=_flags(facility, discrimination),
    )


def quiz_stats(quiz: Quiz, attempts: Sequence[ScoredAttempt]) -> QuizStats:
    """Summary, histogram and item analysis over the given submitted attempts."""
    percents = [a.percent for a in attempts]
    return QuizStats(
        n=len(attempts),
        mean_percent=statistics.fmean(percents) if percents else None,
        median_percent=statistics.median(percents) if percents else None,
        histogram=histogram(percents),
        items=[item_stats(q, attempts) for q in quiz.questions],
        percents=percents,
    )
