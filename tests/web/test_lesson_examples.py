"""The lesson page's "Run the example": logged-in only, CSRF-checked, limited per person and
in concurrency, clear when Docker is away; the result block escapes what the example printed.
One test runs the flagship example for real through the route (Docker)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from servelab.accounts.throttle import SlidingWindowCounter
from servelab.db.models import Role, User
from servelab.grading.example_run import ExampleRun
from servelab.settings import Settings
from servelab.web.routes.lesson_examples import FRAGMENT_HEADER, ExampleGate
from servelab.web.templating import templates
from support import csrf_from, login

SLUG = "fastapi-for-ml-apis"
PAGE = f"/lessons/{SLUG}"
RUN = f"/lessons/{SLUG}/example/run"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def example_settings(request: pytest.FixtureRequest, migrated: Settings) -> Settings:
    """Two runs a minute, one at a time; counted in memory, then in a real Redis."""
    update: dict[str, object] = {"example_runs_per_minute": 2, "example_run_concurrency": 1}
    if request.param == "redis":
        update |= {"limits_backend": "redis", "redis_url": request.getfixturevalue("redis_db")}
    return migrated.model_copy(update=update)


@pytest.fixture
def example_client(example_settings: Settings) -> Iterator[TestClient]:
    from servelab.web.app import create_app

    with TestClient(create_app(example_settings)) as client:
        yield client


@pytest.fixture
def no_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Docker engine does not answer (a socket nobody listens on)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")


def _token(client: TestClient) -> str:
    m = re.search(
        r'id="example-run-form".*?name="csrf_token" value="([^"]+)"', client.get(PAGE).text, re.S
    )
    assert m, "no Run form on the lesson page"
    return m.group(1)


def _logged_in(client: TestClient, make_user: Callable[..., User]) -> str:
    login(client, make_user(Role.LEARNER))
    return _token(client)


def test_an_anonymous_reader_is_asked_to_log_in(client: TestClient) -> None:
    html = client.get(PAGE).text
    assert (
        'href="/login?next=/lessons/fastapi-for-ml-apis%23example">Log in to run this example'
        in html
    )
    assert 'id="example-run-form"' not in html
    token = csrf_from(client)  # an anonymous form's token: the CSRF cookie's (double submit)
    r = client.post(RUN, data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Flessons%2Ffastapi-for-ml-apis%23example"
    r = client.post(RUN, data={"csrf_token": token}, headers={FRAGMENT_HEADER: "fragment"})
    assert r.status_code == 401 and "Log in to run this example." in r.text
    # After logging in, the reader comes back to the example.
    login_page = client.get(r"/login?next=/lessons/fastapi-for-ml-apis%23example").text
    assert f'name="next" value="{PAGE}#example"' in login_page


def test_the_run_form_is_on_the_lesson_page_with_its_own_css_and_script(
    client: TestClient, make_user: Callable[..., User]
) -> None:
    _logged_in(client, make_user)
    html = client.get(PAGE).text
    assert f'action="{RUN}#example-run"' in html and ">Run</button>" in html
    assert '<link rel="stylesheet" href="/static/example-run.css">' in html
    assert '<script src="/static/example-run.js" defer></script>' in html
    for asset in ("example-run.css", "example-run.js"):
        assert client.get(f"/static/{asset}").status_code == 200


def test_a_run_without_the_forms_token_is_refused(
    client: TestClient, make_user: Callable[..., User], no_docker: None
) -> None:
    _logged_in(client, make_user)
    assert client.post(RUN, data={}).status_code == 403
    r = client.post(RUN, data={"csrf_token": "not-the-token"})
    assert r.status_code == 403 and "security token" in r.text


def test_docker_down_answers_503_examples_cannot_run(
    client: TestClient, make_user: Callable[..., User], no_docker: None
) -> None:
    token = _logged_in(client, make_user)
    r = client.post(RUN, data={"csrf_token": token})
    assert r.status_code == 503 and r.headers["retry-after"] == "60"
    assert "Examples cannot run right now" in r.text
    assert r.template.name == "lesson.html"  # type: ignore[attr-defined]


def test_runs_past_the_limit_per_minute_get_429_with_retry_after(
    example_client: TestClient, make_user: Callable[..., User], no_docker: None
) -> None:
    token = _logged_in(example_client, make_user)
    for _ in range(2):  # each run is counted, even one that Docker could not start
        assert example_client.post(RUN, data={"csrf_token": token}).status_code == 503
    r = example_client.post(RUN, data={"csrf_token": token}, headers={FRAGMENT_HEADER: "fragment"})
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 61
    assert "You have run examples 2 times in the last minute" in r.text
    assert r.template.name == "_example_run.html"  # type: ignore[attr-defined]
    # The limit is the person's: someone else may still run.
    example_client.cookies.clear()
    other = _logged_in(example_client, make_user)
    assert example_client.post(RUN, data={"csrf_token": other}).status_code == 503


def test_when_every_example_slot_is_taken_the_run_is_refused_busy(
    client: TestClient, make_user: Callable[..., User], no_docker: None
) -> None:
    learner = make_user(Role.LEARNER)
    login(client, learner)
    token = _token(client)
    gate = ExampleGate(counter=SlidingWindowCounter(limit=2, window_seconds=60), slots=1)
    client.app.state.example_gate = gate  # type: ignore[attr-defined]
    with gate.slot(learner):  # another run holds the process's only slot
        r = client.post(RUN, data={"csrf_token": token})
    assert r.status_code == 503 and r.headers["retry-after"] == "10"
    assert "Other examples are running right now (at most 1 at once)" in r.text
    # A refused run is not counted: the slot's own run and this one leave one more.
    assert client.post(RUN, data={"csrf_token": token}).status_code == 503
    assert client.post(RUN, data={"csrf_token": token}).status_code == 429


def _render_result(run: ExampleRun, lesson: object) -> str:
    request = Request(
        {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    )
    return templates.get_template("_example_run.html").render(
        request=request, lesson=lesson, example_run=run
    )


def test_the_result_block_escapes_and_marks_what_the_example_printed(client: TestClient) -> None:
    lesson = client.app.state.course.lessons[SLUG]  # type: ignore[attr-defined]
    printed = '<script>alert("x")</script>\n'
    run = ExampleRun(
        reason="exit",
        exit_code=1,
        seconds=0.5,
        limit_seconds=30,
        memory_mb=1024,
        output=printed,
        stderr_tail="Traceback\n<img src=x onerror=alert(1)>",
        matches=False,
        diff="--- expected output\n+++ this run\n-rows: 1\n+<script>",
    )
    html = _render_result(run, lesson)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "does not match" in html and "exit code 1" in html
    assert '<span class="diff-del">-rows: 1</span>' in html
    assert '<span class="diff-add">+&lt;script&gt;</span>' in html


@pytest.mark.docker
@pytest.mark.slow
def test_the_flagship_example_runs_from_the_lesson_page_and_matches(
    runtime_image: str, client: TestClient, make_user: Callable[..., User]
) -> None:
    token = _logged_in(client, make_user)
    r = client.post(RUN, data={"csrf_token": token})
    assert r.status_code == 200, r.text
    html = r.text
    assert "<strong>matches</strong>" in html and "its output matches" in html
    assert '<input type="radio" name="example-tab" id="tab-output" checked>' in html
    assert "slice islands: rows=21 accuracy=0.86" in html.split("This run's output")[1]
    r = client.post(RUN, data={"csrf_token": token}, headers={FRAGMENT_HEADER: "fragment"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="example-run-result"')


def test_with_example_runs_off_there_is_no_run_button(
    migrated: Settings, make_user: Callable[..., User]
) -> None:
    from servelab.web.app import create_app

    off = migrated.model_copy(update={"example_runs_enabled": False})
    with TestClient(create_app(off)) as client:
        login(client, make_user(Role.LEARNER))
        html = client.get(PAGE).text
        assert 'id="example-run-form"' not in html and "python example.py" in html
        token = csrf_from(client, PAGE)
        r = client.post(RUN, data={"csrf_token": token})
    assert r.status_code == 404 and "does not run examples" in r.text
