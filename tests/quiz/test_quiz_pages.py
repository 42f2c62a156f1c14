"""The quiz pages (routes/quiz_pages.py): login, taking an attempt, results that hide answers
until the quiz allows, 404 for another learner's attempt."""

from __future__ import annotations

import re

import quiz_helpers
from fastapi.testclient import TestClient
from quiz_helpers import FLAGSHIP, LIMITED, assert_no_answers

from support import csrf_from, login

API = f"/api/v1/quizzes/{FLAGSHIP}"

# Fixtures from quiz_helpers (a conftest.py here would shadow the top-level one).
bearer = quiz_helpers.bearer
course_dir = quiz_helpers.course_dir
html_client = quiz_helpers.html_client
settings = quiz_helpers.settings
flagship = quiz_helpers.flagship


def _form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields with repeated names (checkboxes), in the shape httpx accepts."""
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def _options_in_order(html: str, question_id: str) -> list[str]:
    return re.findall(rf'id="q-{re.escape(question_id)}-([a-z0-9_-]+)"', html)


def test_login_is_required(html_client: TestClient, client: TestClient) -> None:
    r = html_client.get(f"/quizzes/{FLAGSHIP}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/quizzes/{FLAGSHIP}"
    assert client.get(API).status_code == 401
    assert client.post(f"{API}/attempts").status_code in (401, 403)


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
