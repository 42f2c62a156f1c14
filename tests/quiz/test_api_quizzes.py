"""The quiz JSON API (routes/api/quizzes.py): ownership, CSRF, 422/409 errors in their one
shape, no early answer leaks, and what /openapi.json says of it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import quiz_helpers
from fastapi.testclient import TestClient
from quiz_helpers import ANSWER_KEYS, FLAGSHIP, LIMITED, assert_no_answers, keys_in
from sqlmodel import Session

from servelab.db.clock import utcnow
from servelab.db.models.quiz import QuizAttempt
from support import csrf_from, login

API = f"/api/v1/quizzes/{FLAGSHIP}"

# Fixtures from quiz_helpers (a conftest.py here would shadow the top-level one).
bearer = quiz_helpers.bearer
course_dir = quiz_helpers.course_dir
html_client = quiz_helpers.html_client
settings = quiz_helpers.settings
flagship = quiz_helpers.flagship


def test_api_quiz_never_contains_answers(client, bearer, make_user, flagship) -> None:  # type: ignore[no-untyped-def]
    r = client.get(API, headers=bearer(make_user()))
    assert r.status_code == 200
    body = r.json()
    assert len(body["questions"]) == len(flagship.questions)
    assert not (keys_in(body) & ANSWER_KEYS)
    assert_no_answers(flagship, r.text)
    assert client.get("/api/v1/quizzes/nope", headers=bearer(make_user())).status_code == 404


def test_api_attempt_flow_is_idempotent_and_explained(client, bearer, make_user, flagship) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(make_user())
    r = client.post(f"{API}/attempts", headers=headers)
    assert r.status_code == 201
    attempt = r.json()
    assert not (keys_in(attempt) & ANSWER_KEYS)
    assert_no_answers(flagship, r.text)
    # continuing returns the same attempt with the same order
    again = client.post(f"{API}/attempts", headers=headers)
    assert again.status_code == 200 and again.json() == attempt
    got = client.get(f"{API}/attempts/{attempt['id']}", headers=headers)
    assert got.json()["questions"] == attempt["questions"]
    assert client.get(f"{API}/attempts/{attempt['id']}/result", headers=headers).status_code == 409

    answers = {
        "best-practice": "artifact-and-contract",
        "leaky-columns": ["customer-id", "offer-sent"],
        "nan-reaches-model": False,
        "baseline-accuracy": 0.78,
        "contract-status": "422",
        "latency-median": "17 ms",
    }
    submit = f"{API}/attempts/{attempt['id']}/submit"
    r = client.post(submit, headers=headers, json={"answers": answers})
    assert r.status_code == 200, r.text
    result = r.json()
    per_question = {q["question_id"]: q for q in result["questions"]}
    assert per_question["best-practice"]["status"] == "correct"
    assert per_question["leaky-columns"]["status"] == "partial"
    assert per_question["leaky-columns"]["earned"] == pytest.approx(2 * 2 / 3, abs=1e-4)
    assert per_question["split-strategy"]["status"] == "unanswered"
    assert result["score"] == pytest.approx(2 + 4 / 3 + 1 + 1 + 1 + 1, abs=1e-4)
    assert result["answers_revealed"] is True
    assert per_question["split-strategy"]["correct_answer"] == "temporal"
    assert per_question["best-practice"]["explanation"].startswith("The service should only")
    assert per_question["leaky-columns"]["section_url"] == f"/lessons/{FLAGSHIP}#leakage"
    assert [q["question_id"] for q in result["questions"]] == [
        q["id"] for q in attempt["questions"]
    ]

    # the same answers again: harmless, same result
    r2 = client.post(submit, headers=headers, json={"answers": answers})
    assert r2.status_code == 200 and r2.json() == result
    # different answers to the closed attempt: refused, result unchanged
    r3 = client.post(submit, headers=headers, json={"answers": {"best-practice": "one-average"}})
    assert r3.status_code == 409 and "already submitted" in r3.json()["detail"]
    final = client.get(f"{API}/attempts/{attempt['id']}/result", headers=headers)
    assert final.json() == result
    history = client.get(f"{API}/attempts", headers=headers).json()
    assert [(a["number"], a["status"]) for a in history] == [(1, "submitted")]


@pytest.mark.parametrize(
    "answers",
    [
        {"no-such-question": "a"},
        {"best-practice": "no-such-option"},
        {"leaky-columns": ["churned", "no-such-option"]},
        {"best-practice": ["artifact-and-contract", "one-average"]},
        {"nan-reaches-model": "maybe"},
        {"leaky-columns": {"a": 1}},
    ],
)
def test_bad_ids_get_422_and_leave_the_attempt_open(client, bearer, make_user, answers) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(make_user())
    attempt = client.post(f"{API}/attempts", headers=headers).json()
    r = client.post(
        f"{API}/attempts/{attempt['id']}/submit", headers=headers, json={"answers": answers}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    assert client.get(f"{API}/attempts/{attempt['id']}", headers=headers).json()["status"] == "open"


def test_a_flood_of_bad_ids_lists_twenty_and_counts_the_rest(client, bearer, make_user) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(make_user())
    attempt = client.post(f"{API}/attempts", headers=headers).json()
    answers: dict[str, object] = {"leaky-columns": [f"option-{n}" for n in range(1000)]}
    answers.update({f"{'q' * 2000}-{n}": "a" for n in range(300)})  # under 1 MiB
    r = client.post(
        f"{API}/attempts/{attempt['id']}/submit", headers=headers, json={"answers": answers}
    )
    assert r.status_code == 422
    detail = r.json()["detail"]
    # The shape of every 422 (api_schemas.ValidationErrorBody): loc, msg, type.
    assert len(detail) == 21 and detail[-1] == {
        "loc": [],
        "msg": "… and 281 more problems",
        "type": "too_many_errors",
    }
    assert all(item["loc"][:2] == ["body", "answers"] for item in detail[:-1])
    assert all(len(item["loc"][2]) <= 80 for item in detail[:-1])
    options = next(item["msg"] for item in detail if item["loc"][-1:] == ["leaky-columns"])
    assert options.startswith("unknown option ids ['option-0', ")
    assert options.endswith(", … and 980 more ids]")
    assert len(r.content) < 20_000


def test_malformed_bodies_get_422(client, bearer, make_user) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(make_user())
    attempt = client.post(f"{API}/attempts", headers=headers).json()
    url = f"{API}/attempts/{attempt['id']}/submit"
    assert client.post(url, headers=headers, json={"nope": 1}).status_code == 422
    r = client.post(
        url,
        headers={**headers, "content-type": "application/json"},
        content=b'{"answers": {"latency-median": NaN}}',
    )
    assert r.status_code == 422
    # An id that is not a number names no attempt: 404, like every id out of range.
    r = client.post(f"{API}/attempts/abc/submit", headers=headers, json={"answers": {}})
    assert r.status_code == 404 and r.json() == {"detail": "There is no attempt abc."}


def test_another_users_attempt_is_not_found(client, bearer, make_user) -> None:  # type: ignore[no-untyped-def]
    owner, other = bearer(make_user()), bearer(make_user())
    attempt = client.post(f"{API}/attempts", headers=owner).json()
    for method, url in (
        ("get", f"{API}/attempts/{attempt['id']}"),
        ("get", f"{API}/attempts/{attempt['id']}/result"),
        ("post", f"{API}/attempts/{attempt['id']}/submit"),
    ):
        r = client.request(method, url, headers=other, json={"answers": {}})
        assert r.status_code == 404, (url, r.status_code)
    # the same id under another quiz's slug is not found either
    r = client.get(f"/api/v1/quizzes/{LIMITED}/attempts/{attempt['id']}", headers=owner)
    assert r.status_code == 404


def test_time_limit_is_enforced_by_the_api(client, bearer, make_user, db: Session) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(make_user())
    url = f"/api/v1/quizzes/{LIMITED}/attempts"
    attempt = client.post(url, headers=headers).json()
    assert attempt["deadline_at"] is not None
    row = db.get(QuizAttempt, attempt["id"])
    assert row is not None
    row.started_at = utcnow() - timedelta(minutes=7)
    row.deadline_at = utcnow() - timedelta(minutes=2)
    db.add(row)
    db.commit()
    r = client.post(
        f"{url}/{attempt['id']}/submit", headers=headers, json={"answers": {"split": "time"}}
    )
    assert r.status_code == 409 and "time limit" in r.json()["detail"]
    assert client.get(f"{url}/{attempt['id']}", headers=headers).json()["status"] == "expired"


def test_attempts_limit_and_late_reveal_through_the_api(client, bearer, make_user, app) -> None:  # type: ignore[no-untyped-def]
    quiz = app.state.course.quizzes[LIMITED]
    headers = bearer(make_user())
    url = f"/api/v1/quizzes/{LIMITED}/attempts"
    first = client.post(url, headers=headers).json()
    r = client.post(
        f"{url}/{first['id']}/submit", headers=headers, json={"answers": {"split": "random"}}
    )
    assert r.status_code == 200
    assert r.json()["answers_revealed"] is False
    assert all(
        q["correct_answer"] is None and q["explanation"] is None for q in r.json()["questions"]
    )
    assert_no_answers(quiz, r.text)
    assert {q["status"] for q in r.json()["questions"]} == {"incorrect", "unanswered"}
    second = client.post(url, headers=headers).json()
    r = client.post(
        f"{url}/{second['id']}/submit", headers=headers, json={"answers": {"split": "time"}}
    )
    assert r.json()["answers_revealed"] is True
    assert "SECRET-EXPLANATION-SPLIT" in r.text
    r = client.post(url, headers=headers)
    assert r.status_code == 409 and "used all 2 attempts" in r.json()["detail"]


def test_cookie_api_calls_need_the_csrf_header(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    login(client, user)
    assert client.post(f"{API}/attempts").status_code == 403
    token = csrf_from(client, "/account")  # the login's token, not the anonymous cookie
    assert client.post(f"{API}/attempts", headers={"x-csrf-token": token}).status_code == 201


def test_openapi_documents_the_quiz_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method, model in (
        ("/api/v1/quizzes/{slug}", "get", "QuizPublic"),
        ("/api/v1/quizzes/{slug}/attempts", "post", "AttemptPublic"),
        ("/api/v1/quizzes/{slug}/attempts/{attempt_id}/submit", "post", "AttemptResult"),
        ("/api/v1/quizzes/{slug}/attempts/{attempt_id}/result", "get", "AttemptResult"),
    ):
        op = paths[path][method]
        schema = json.dumps(op["responses"])
        assert f"#/components/schemas/{model}" in schema, (path, schema)
    assert "SubmitAnswers" in spec["components"]["schemas"]
    public = json.dumps(spec["components"]["schemas"]["QuestionPublic"])
    assert "explanation" not in public and '"answer"' not in public
    assert not any(p.startswith("/quizzes") or p.startswith("/instructor") for p in paths)
