"""Whatever a client sends as answers, the outcome is a score or a clear refusal, never a crash."""

from __future__ import annotations

from typing import Any

import pytest
import quiz_helpers
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from quiz_helpers import FLAGSHIP, FLAGSHIP_DIR

from servelab.content.quiz import load_quiz
from servelab.quiz.scoring import InvalidAnswers, normalize_answers, score_quiz

QUIZ = load_quiz(FLAGSHIP_DIR / "quiz.toml")
QUESTION_IDS = [q.id for q in QUIZ.questions]
OPTION_IDS = sorted({o.id for q in QUIZ.questions for o in getattr(q, "options", [])})


def _answer_maps(floats: st.SearchStrategy[float]) -> st.SearchStrategy[dict[str, Any]]:
    scalars = st.none() | st.booleans() | st.integers() | floats | st.text(max_size=30)
    values = st.recursive(
        scalars | st.sampled_from(OPTION_IDS),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=6,
    )
    keys = st.sampled_from(QUESTION_IDS) | st.text(max_size=12)
    return st.dictionaries(keys, values, max_size=6)


# Fixtures from quiz_helpers (a conftest.py here would shadow the top-level one).
course_dir = quiz_helpers.course_dir
settings = quiz_helpers.settings
bearer = quiz_helpers.bearer


@pytest.fixture
def learner_headers(bearer, make_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return bearer(make_user())  # type: ignore[no-any-return]


@given(_answer_maps(st.floats()))
@hypothesis_settings(max_examples=300, deadline=None)
def test_any_answers_are_scored_or_refused_with_reasons(raw: dict[str, Any]) -> None:
    try:
        responses = normalize_answers(QUIZ, raw)
    except InvalidAnswers as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        return
    scores = score_quiz(QUIZ, responses)
    assert all(0 <= s.earned <= s.points for s in scores)


# Strict JSON has no NaN or Infinity; a body with bare NaN has its own test in test_quiz_routes.
@given(answers=_answer_maps(st.floats(allow_nan=False, allow_infinity=False)))
@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_submit_endpoint_never_fails_with_500(client, learner_headers, answers) -> None:  # type: ignore[no-untyped-def]
    attempt = client.post(f"/api/v1/quizzes/{FLAGSHIP}/attempts", headers=learner_headers).json()
    r = client.post(
        f"/api/v1/quizzes/{FLAGSHIP}/attempts/{attempt['id']}/submit",
        headers=learner_headers,
        json={"answers": answers},
    )
    assert r.status_code in (200, 422), r.text
    assert r.headers["content-type"].startswith("application/json")
