"""Option and question order come from the attempt's seed: reproducible, and really shuffled."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from servelab.content.quiz import Quiz
from servelab.quiz.shuffle import presentation

OPTIONS = [{"id": f"o{i}", "text": f"Option {i}"} for i in range(6)]


def _quiz(**settings: object) -> Quiz:
    questions = [
        {
            "id": f"q{n}",
            "prompt": "p",
            "explanation": "e",
            "section": "leakage",
            "answer": "o0",
            "options": OPTIONS,
        }
        for n in range(8)
    ]
    return Quiz.model_validate({"title": "T", "questions": questions, **settings})


def _orders(quiz: Quiz, seed: int | None) -> list[tuple[str, tuple[str, ...]]]:
    return [(p.question.id, tuple(o.id for o in p.options)) for p in presentation(quiz, seed)]


def test_same_seed_gives_the_same_order() -> None:
    quiz = _quiz(shuffle_questions=True)
    assert _orders(quiz, 12345) == _orders(quiz, 12345)
    assert _orders(quiz, 12345) == _orders(_quiz(shuffle_questions=True), 12345)


def test_the_order_survives_a_restart() -> None:
    """A review after a server restart (another process, another hash seed) shows the same order."""
    quiz = _quiz(shuffle_questions=True)
    script = (
        "import json, sys\n"
        "from servelab.content.quiz import Quiz\n"
        "from servelab.quiz.shuffle import presentation\n"
        "quiz = Quiz.model_validate_json(sys.stdin.read())\n"
        "print(json.dumps([[p.question.id, [o.id for o in p.options]]"
        " for p in presentation(quiz, 7)]))\n"
    )
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            input=quiz.model_dump_json(),
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout
        other = [(qid, tuple(options)) for qid, options in json.loads(out)]
        assert other == _orders(quiz, 7)


def test_different_seeds_shuffle_differently_and_keep_every_option() -> None:
    quiz = _quiz(shuffle_questions=True)
    orders = {tuple(_orders(quiz, seed)) for seed in range(20)}
    assert len(orders) == 20
    for seed in range(20):
        for _, options in _orders(quiz, seed):
            assert sorted(options) == [o["id"] for o in OPTIONS]


def test_no_shuffle_keeps_the_authored_order() -> None:
    quiz = _quiz(shuffle_questions=False, shuffle_options=False)
    assert _orders(quiz, 99) == _orders(quiz, None)
    assert [qid for qid, _ in _orders(quiz, 99)] == [f"q{n}" for n in range(8)]


def test_options_shuffle_without_moving_questions() -> None:
    quiz = _quiz(shuffle_questions=False, shuffle_options=True)
    orders = _orders(quiz, 5)
    assert [qid for qid, _ in orders] == [f"q{n}" for n in range(8)]
    assert len({options for _, options in orders}) > 1
