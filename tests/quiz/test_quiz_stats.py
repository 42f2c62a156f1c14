"""Item analysis on a fixture whose numbers were computed by hand (see the comments)."""

from __future__ import annotations

import math

import pytest

from servelab.content.quiz import Quiz
from servelab.quiz.scoring import Response, normalize_answers, score_quiz
from servelab.quiz.stats import (
    ItemResponse,
    ScoredAttempt,
    histogram,
    pearson,
    quiz_stats,
)

QUIZ = Quiz.model_validate(
    {
        "title": "Fixture",
        "questions": [
            {
                "id": "q1",
                "prompt": "p",
                "explanation": "e",
                "section": "leakage",
                "answer": "a",
                "options": [{"id": i, "text": i} for i in "abc"],
            },
            {
                "id": "q2",
                "prompt": "p",
                "explanation": "e",
                "section": "leakage",
                "answer": "a",
                "options": [{"id": i, "text": i} for i in "ab"],
            },
            {
                "id": "q3",
                "type": "multiple",
                "points": 2,
                "prompt": "p",
                "explanation": "e",
                "section": "slices",
                "answers": ["x", "y"],
                "options": [{"id": i, "text": i} for i in "xyz"],
            },
            {
                "id": "q4",
                "type": "true_false",
                "answer": True,
                "prompt": "p",
                "explanation": "e",
                "section": "baseline",
            },
            {
                "id": "q5",
                "type": "numeric",
                "answer": 17,
                "prompt": "p",
                "explanation": "e",
                "section": "baseline",
            },
        ],
    }
)

# Earned points per attempt:   q1 q2 q3  q4 q5 | total (of 6)
#   A1: a, a, [x,y], true, 16  ->  1  1  2   1  0  | 5   83.33 %
#   A2: a, b, [x],   true, 16  ->  1  0  1   1  0  | 3   50.00 %
#   A3: b, a, [z],   true, abc ->  0  1  0   1  0  | 2   33.33 %
#   A4: a, b, -,     true, -   ->  1  0  0   1  0  | 2   33.33 %
ANSWERS: list[dict[str, object]] = [
    {"q1": "a", "q2": "a", "q3": ["x", "y"], "q4": "true", "q5": "16"},
    {"q1": "a", "q2": "b", "q3": ["x"], "q4": "true", "q5": "16"},
    {"q1": "b", "q2": "a", "q3": ["z"], "q4": "true", "q5": "abc"},
    {"q1": "a", "q2": "b", "q4": "true"},
]


def _attempts() -> list[ScoredAttempt]:
    out = []
    for attempt_id, raw in enumerate(ANSWERS, start=1):
        responses: dict[str, Response] = normalize_answers(QUIZ, raw)
        items = {
            s.question_id: ItemResponse(s.earned, s.points, responses.get(s.question_id))
            for s in score_quiz(QUIZ, responses)
        }
        out.append(ScoredAttempt(attempt_id, items))
    return out


@pytest.fixture(scope="module")
def stats():  # type: ignore[no-untyped-def]
    return quiz_stats(QUIZ, _attempts())


def test_fixture_scores_are_as_commented() -> None:
    assert [a.score for a in _attempts()] == [5, 3, 2, 2]


def test_summary(stats) -> None:  # type: ignore[no-untyped-def]
    assert stats.n == 4
    # (83.33 + 50 + 33.33 + 33.33) / 4 = 200 / 4
    assert stats.mean_percent == pytest.approx(50.0)
    # middle two of 33.33, 33.33, 50, 83.33
    assert stats.median_percent == pytest.approx((100 / 3 + 50) / 2)
    assert stats.histogram == [0, 0, 0, 2, 0, 1, 0, 0, 1, 0]


def test_facility(stats) -> None:  # type: ignore[no-untyped-def]
    facility = {i.question_id: i.facility for i in stats.items}
    # q3: item scores 1, 0.5, 0, 0 -> 1.5 / 4
    assert facility == pytest.approx({"q1": 0.75, "q2": 0.5, "q3": 0.375, "q4": 1.0, "q5": 0.0})


def test_discrimination_is_the_corrected_point_biserial(stats) -> None:  # type: ignore[no-untyped-def]
    by_id = {i.question_id: i for i in stats.items}
    # q1: item 1,1,0,1 against rest 4,2,2,1: sxy = 0.25, sxx = 0.75, syy = 4.75
    assert by_id["q1"].discrimination == pytest.approx(0.25 / math.sqrt(0.75 * 4.75))  # 0.1325
    # q2: item 1,0,1,0 against rest 4,3,1,2: sxy = 0
    assert by_id["q2"].discrimination == pytest.approx(0.0)
    # q3: item 1,.5,0,0 against rest 3,2,2,2: sxy = 0.625, sxx = 0.6875, syy = 0.75
    assert by_id["q3"].discrimination == pytest.approx(0.625 / math.sqrt(0.6875 * 0.75))  # 0.8704
    # q4 and q5 do not vary: the correlation is undefined
    assert by_id["q4"].discrimination is None
    assert by_id["q5"].discrimination is None


def test_upper_lower_index(stats) -> None:  # type: ignore[no-untyped-def]
    # 27 % of 4 rounds to 1 attempt per group: upper = A1 (5), lower = A3 (2, lower id of the tie)
    by_id = {i.question_id: i.upper_lower for i in stats.items}
    assert by_id == pytest.approx({"q1": 1.0, "q2": 0.0, "q3": 1.0, "q4": 0.0, "q5": 0.0})


def test_option_distribution(stats) -> None:  # type: ignore[no-untyped-def]
    by_id = {
        i.question_id: [(r.label, r.count, r.correct) for r in i.distribution] for i in stats.items
    }
    assert by_id["q1"] == [
        ("a: a", 3, True),
        ("b: b", 1, False),
        ("c: c", 0, False),
        ("(no answer)", 0, None),
    ]
    assert by_id["q3"] == [
        ("x: x", 2, True),
        ("y: y", 1, True),
        ("z: z", 1, False),
        ("(no answer)", 1, None),
    ]
    assert by_id["q4"] == [("true", 4, True), ("false", 0, False), ("(no answer)", 0, None)]
    assert by_id["q5"] == [("16", 2, False), ("abc", 1, False), ("(no answer)", 1, None)]


def test_flags(stats) -> None:  # type: ignore[no-untyped-def]
    flags = {i.question_id: i.flags for i in stats.items}
    assert flags["q1"] == []
    assert flags["q2"] == ["low discrimination: below 0.1"]
    assert flags["q3"] == []
    assert flags["q4"] == ["very easy: facility above 0.95"]
    assert flags["q5"] == ["very hard: facility below 0.2"]


def test_empty_and_edge_inputs() -> None:
    empty = quiz_stats(QUIZ, [])
    assert empty.n == 0 and empty.mean_percent is None and empty.histogram == [0] * 10
    assert all(i.facility is None and i.flags == [] for i in empty.items)
    assert pearson([1.0], [2.0]) is None
    assert histogram([0, 9.99, 10, 99.9, 100]) == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
