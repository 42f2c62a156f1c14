"""Quiz pages and JSON API: login, ownership, CSRF, 422/409 errors, no early answer leaks."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
import quiz_helpers
from fastapi.testclient import TestClient
from quiz_helpers import FLAGSHIP, LIMITED
from sqlmodel import Session

from servelab.content.quiz import CodeOutput, Quiz, ShortText, TrueFalse
from servelab.db.clock import utcnow
from servelab.db.models import Role
from servelab.db.models.quiz import QuizAttempt
from support import csrf_from, login

API = f"/api/v1/quizzes/{FLAGSHIP}"

# Fixtures from quiz_helpers (a conftest.py here would shadow the top-level one).
bearer = quiz_helpers.bearer
course_dir = quiz_helpers.course_dir
html_client = quiz_helpers.html_client
settings = quiz_helpers.settings


def secrets_of(quiz: Quiz) -> list[str]:
    """Every text that would give an answer away before submission."""
    out: list[str] = []
    for q in quiz.questions:
        out.append(q.explanation)
        for option in getattr(q, "options", []):
            if option.feedback:
                out.append(option.feedback)
        if isinstance(q, TrueFalse):
            out += [t for t in (q.feedback_true, q.feedback_false) if t]
        if isinstance(q, ShortText):
            out += q.accepted
        if isinstance(q, CodeOutput):
            out.append(q.expected_output.strip())
    return out


ANSWER_KEYS = {
    "answer",
    "answers",
    "accepted",
    "expected_output",
    "explanation",
    "feedback",
    "tolerance",
    "correct",
    "correct_answer",
    "feedback_true",
    "feedback_false",
}


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def assert_no_answers(quiz: Quiz, text: str) -> None:
    for secret in secrets_of(quiz):
        assert secret not in text, f"revealed before submission: {secret[:60]!r}"
        assert json.dumps(secret)[1:-1] not in text
    assert "option-correct" not in text and "(correct)" not in text


@pytest.fixture
def flagship(app) -> Quiz:  # type: ignore[no-untyped-def]
    return app.state.course.quizzes[FLAGSHIP]


def test_login_is_required(html_client: TestClient, client: TestClient) -> None:
    r = html_client.get(f"/quizzes/{FLAGSHIP}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/quizzes/{FLAGSHIP}"
    assert client.get(API).status_code == 401
    assert client.post(f"{API}/attempts").status_code in (401, 403)


def test_api_quiz_never_contains_answers(client, bearer, make_user, flagship) -> None:  # type: ignore[no-untyped-def]
    r = client.get(API, headers=bearer(make_user()))
    assert r.status_code == 200
    body = r.json()
    assert len(body["questions"]) == len(flagship.questions)
    assert not (_keys(body) & ANSWER_KEYS)
    assert_no_answers(flagship, r.text)
    assert client.get("/api/v1/quizzes/nope", headers=bearer(make_user())).status_code == 404


def test_api_attempt_flow_is_idempotent_and_explained(client, bearer, make_user, flagship) -> None:  # type: ignore[no-untyped-def]
    headers = bearer(make_user())
    r = client.post(f"{API}/attempts", headers=headers)
    assert r.status_code == 201
    attempt = r.json()
    assert not (_keys(attempt) & ANSWER_KEYS)
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


def _form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields with repeated names (checkboxes), in the shape httpx accepts."""
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _options_in_order(html: str, question_id: str) -> list[str]:
    return re.findall(rf'id="q-{re.escape(question_id)}-([a-z0-9_-]+)"', html)


def test_html_quiz_end_to_end(html_client: TestClient, make_user, flagship) -> None:  # type: ignore[no-untyped-def]
    login(html_client, make_user())
    overview = html_client.get(f"/quizzes/{FLAGSHIP}")
    assert overview.status_code == 200 and "Start the quiz" in overview.text
    token = csrf_from(html_client, f"/quizzes/{FLAGSHIP}")
    # the form is CSRF-protected
    assert (
        html_client.post(f"/quizzes/{FLAGSHIP}/attempts", follow_redirects=False).status_code == 403
    )
    r = html_client.post(
        f"/quizzes/{FLAGSHIP}/attempts", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    attempt_url = r.headers["location"]
    page = html_client.get(attempt_url)
    assert page.status_code == 200
    html = page.text
    assert_no_answers(flagship, html)
    assert "checked" not in html
    # accessible structure: one fieldset + legend per question, a label for every input
    assert html.count("<fieldset") == len(flagship.questions) == html.count("<legend")
    for input_id in re.findall(r'<(?:input|textarea)[^>]*\sid="(q-[^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    seen_order = _options_in_order(html, "best-practice")
    assert sorted(seen_order) == sorted(o.id for o in flagship.questions[0].options)

    form = [
        ("csrf_token", token),
        ("q.best-practice", "artifact-and-contract"),
        ("q.leaky-columns", "customer-id"),
        ("q.leaky-columns", "offer-sent"),
        ("q.leaky-columns", "churned"),
        ("q.nan-reaches-model", "false"),
        ("q.split-output", "4 3\nTrue\n"),
        ("q.latency-median", "17"),
        ("q.contract-status", ""),
    ]
    r = html_client.post(attempt_url, data=_form(form), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == attempt_url
    result = html_client.get(attempt_url).text
    assert "Score: <strong>7 / 17</strong>" in result
    assert flagship.questions[0].explanation.split("*")[0] in result
    assert (
        "Right: training and serving share only the artifact" in result
    )  # chosen option's feedback
    assert f'href="/lessons/{FLAGSHIP}#leakage"' in result
    assert "not answered" in result
    # the review shows options in exactly the order the attempt showed them
    review_order = re.findall(
        r"<li>(?:<strong>Your choice:</strong> )?\s*<span class=\"[^\"]*\">([^<]+)</span>", result
    )
    texts = {o.id: o.text for o in flagship.questions[0].options}
    assert review_order[:4] == [texts[i] for i in seen_order]
    # submitting the same form again is harmless; a changed form is refused
    assert (
        html_client.post(attempt_url, data=_form(form), follow_redirects=False).status_code == 303
    )
    changed = [*form[:1], ("q.best-practice", "one-average")]
    r = html_client.post(attempt_url, data=_form(changed), follow_redirects=False)
    assert r.status_code == 409 and "already submitted" in r.text
    history = html_client.get(f"/quizzes/{FLAGSHIP}").text
    assert "#1" in history and "7 / 17" in history


def test_html_unknown_ids_get_422_page(html_client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    login(html_client, make_user())
    token = csrf_from(html_client, f"/quizzes/{FLAGSHIP}")
    url = html_client.post(
        f"/quizzes/{FLAGSHIP}/attempts", data={"csrf_token": token}, follow_redirects=False
    ).headers["location"]
    r = html_client.post(url, data={"csrf_token": token, "q.best-practice": "zzz"})
    assert r.status_code == 422 and "unknown option id" in r.text
    r = html_client.post(url, data={"csrf_token": token, "q.nope": "a"})
    assert r.status_code == 422 and "no question with this id" in r.text


def test_html_other_users_attempt_is_404(app, make_user) -> None:  # type: ignore[no-untyped-def]
    with (
        TestClient(app, headers={"accept": "text/html"}) as a,
        TestClient(app, headers={"accept": "text/html"}) as b,
    ):
        login(a, make_user())
        login(b, make_user())
        token = csrf_from(a, f"/quizzes/{FLAGSHIP}")
        url = a.post(
            f"/quizzes/{FLAGSHIP}/attempts", data={"csrf_token": token}, follow_redirects=False
        ).headers["location"]
        assert a.get(url).status_code == 200
        assert b.get(url).status_code == 404
        b_token = csrf_from(b, f"/quizzes/{FLAGSHIP}")
        assert b.post(url, data={"csrf_token": b_token}).status_code == 404


def test_instructor_pages(client, bearer, make_user, html_client, flagship) -> None:  # type: ignore[no-untyped-def]
    for answers in (
        {"best-practice": "artifact-and-contract", "split-strategy": "temporal"},
        {"best-practice": "one-average", "split-strategy": "temporal"},
    ):
        headers = bearer(make_user())
        attempt = client.post(f"{API}/attempts", headers=headers).json()
        client.post(
            f"{API}/attempts/{attempt['id']}/submit", headers=headers, json={"answers": answers}
        )
    client.post(
        f"{API}/attempts", headers=bearer(make_user(email="=cmd@example.org"))
    )  # open attempt

    learner = make_user()
    login(html_client, learner)
    assert html_client.get(f"/instructor/quizzes/{FLAGSHIP}").status_code == 403
    assert html_client.get(f"/instructor/quizzes/{FLAGSHIP}/attempts.csv").status_code == 403
    html_client.cookies.clear()
    login(html_client, make_user(Role.INSTRUCTOR))
    page = html_client.get(f"/instructor/quizzes/{FLAGSHIP}")
    assert page.status_code == 200
    assert "3 attempts by 3 learners; 2 submitted." in page.text
    # scores 3/17 and 1/17: mean = median = 2/17 = 11.8 %
    assert "Mean <strong>11.8 %</strong>, median <strong>11.8 %</strong>" in page.text
    svg = re.search(r"<svg.*?</svg>", page.text, re.S)
    assert svg is not None
    tree = ElementTree.fromstring(svg.group(0))
    assert len(tree.findall("{http://www.w3.org/2000/svg}rect")) == 10
    assert 'id="item-best-practice"' in page.text and "very easy" in page.text
    assert html_client.get("/instructor/quizzes").status_code == 200

    exported = html_client.get(f"/instructor/quizzes/{FLAGSHIP}/attempts.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 3
    assert {r["status"] for r in rows} == {"submitted", "open"}
    assert sorted(r["score"] for r in rows) == ["", "1", "3"]
    assert "points:best-practice" in rows[0]
    assert all(float(r["seconds_taken"]) >= 0 for r in rows if r["status"] == "submitted")
    assert any(r["user_email"] == "'=cmd@example.org" for r in rows)  # formula neutralised


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


def test_html_result_hides_answers_until_the_last_attempt(
    html_client: TestClient, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(html_client, make_user())
    pages = []
    for _ in range(2):
        token = csrf_from(html_client, f"/quizzes/{LIMITED}")
        url = html_client.post(
            f"/quizzes/{LIMITED}/attempts", data={"csrf_token": token}, follow_redirects=False
        ).headers["location"]
        taking = html_client.get(url).text
        assert "SECRET" not in taking
        html_client.post(url, data={"csrf_token": token, "q.split": "random"})
        pages.append(html_client.get(url).text)
    first, last = pages
    assert "Score: <strong>0 / 3</strong>" in first
    assert "SECRET" not in first and "Correct answers and explanations appear after" in first
    assert "SECRET-EXPLANATION-SPLIT" in last and "SECRET-FEEDBACK-RANDOM" in last
    assert "SECRET-FEEDBACK-TIME" not in last  # feedback only for the option that was chosen
    overview = html_client.get(f"/quizzes/{LIMITED}").text
    assert "You have used all your attempts." in overview
    assert f'action="/quizzes/{LIMITED}/attempts"' not in overview
