"""Several web processes, one deployment: real `servelab serve` processes on one database and
one Redis count logins and live streams together, and a learner watching one process sees
the progress of a submission another process grades."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from grading_web_helpers import SLUG, TINY_GRADERS, course_settings, store_submission
from sqlmodel import Session

from live_server import LiveServer, live_server
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models import User
from servelab.db.models.grading import SubmissionStatus
from servelab.settings import Settings
from support import PASSWORD

pytestmark = [pytest.mark.redis, pytest.mark.slow]
OWNER = "owner@example.org"


def _form_login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    html = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )


def _learner(settings: Settings, email: str = OWNER) -> tuple[int, str]:
    """A learner with the usual password: their id and an API token of theirs."""
    engine = make_engine(settings)
    with Session(engine) as db:
        user = accounts.create_user(db, email=email, password=PASSWORD)
        token = accounts.create_api_token(db, user=user, name="test")
        assert user.id is not None
        user_id = user.id
    engine.dispose()
    return user_id, token


def test_two_processes_count_login_failures_and_streams_together(
    settings: Settings, tmp_path: Path, redis_db: str
) -> None:
    env = {
        "SERVELAB_REDIS_URL": redis_db,
        "SERVELAB_LOGIN_MAX_FAILURES": "4",
        "SERVELAB_MAX_EVENT_STREAMS_PER_USER": "1",
    }
    with (
        live_server(settings, tmp_path / "a", **env) as one,
        live_server(settings, tmp_path / "b", **env) as other,
    ):
        user_id, token = _learner(settings)
        engine = make_engine(settings)
        with Session(engine) as db:
            user = db.get_one(User, user_id)
            running = store_submission(db, user, status=SubmissionStatus.TRAINING, slug=SLUG)
            db.commit()
            submission_id = running.id
        engine.dispose()

        # Wrong passwords alternate between the processes: the fifth guess is paused,
        # which neither process alone (two failures each) would do.
        clients = [one.client(), other.client()]
        codes = [_form_login(clients[n % 2], OWNER, f"guess {n}!").status_code for n in range(6)]
        print(f"\nguesses alternating between two processes: {codes}")
        assert codes == [400, 400, 400, 400, 429, 429]

        # One live stream per learner: open on one process, refused on the other.
        auth = {"authorization": f"Bearer {token}"}
        path = f"/submissions/{submission_id}/events"
        with clients[0].stream("GET", path, headers=auth, timeout=30) as first:
            assert first.status_code == 200
            reader = first.iter_text()  # kept: an abandoned iterator closes the stream
            assert next(reader).startswith("retry:")
            with clients[1].stream("GET", path, headers=auth, timeout=30) as second:
                refusal = second.read() if second.status_code != 200 else b""
        print(f"a second stream of the same learner on the other process: {second.status_code}")
        assert second.status_code == 429 and b"1 live progress views" in refusal
        # Closed on the first process: the slot is free for the other one again.
        deadline = time.monotonic() + 20
        while True:
            with clients[1].stream("GET", path, headers=auth, timeout=30) as again:
                if again.status_code == 200 or time.monotonic() > deadline:
                    break
            time.sleep(0.25)
        assert again.status_code == 200
        for client in clients:
            client.close()


def test_serve_with_two_workers_runs_two_processes_that_share_the_throttle(
    settings: Settings, tmp_path: Path, redis_db: str
) -> None:
    env = {"SERVELAB_REDIS_URL": redis_db, "SERVELAB_LOGIN_MAX_FAILURES": "3"}
    with live_server(settings, tmp_path, serve_args=["--workers", "2"], **env) as server:
        _learner(settings)
        workers = _web_workers(server)
        codes = []
        for n in range(5):  # a new connection each: the kernel spreads them over the workers
            with server.client() as client:
                codes.append(_form_login(client, OWNER, f"guess {n}!").status_code)
        with server.client() as client:
            paused = _form_login(client, OWNER, PASSWORD)
        print(f"\nweb workers {workers}; guesses over them: {codes}; then: {paused.status_code}")
        assert len(workers) == 2
        assert codes == [400, 400, 400, 429, 429] and paused.status_code == 429


def _web_workers(server: LiveServer) -> list[int]:
    """The uvicorn worker processes of `serve --workers N` (multiprocessing's spawned
    children; its resource tracker is not one)."""
    deadline = time.monotonic() + 60
    while True:
        workers = [
            pid
            for pid in server.children()
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if len(workers) >= 2 or time.monotonic() > deadline:
            return workers
        time.sleep(0.2)


@pytest.mark.docker
def test_a_stream_on_one_process_shows_progress_graded_by_another(
    tmp_path: Path, redis_db: str, grader_image: str
) -> None:
    """Process `web` takes the submission and streams its progress; only process `grader`
    runs a grading pool: every step the grader stores reaches the learner through `web`."""
    settings = course_settings(tmp_path)
    env = {"SERVELAB_REDIS_URL": redis_db}
    with (
        live_server(settings, tmp_path / "web", **env) as web,
        live_server(
            settings,
            tmp_path / "grader",
            SERVELAB_EMBEDDED_WORKER="true",
            SERVELAB_WORKER_COUNT="1",
            **env,
        ),
    ):
        _user, token = _learner(settings)
        auth = {"authorization": f"Bearer {token}"}
        files = {p.name: p.read_text() for p in (TINY_GRADERS / "solution").iterdir()}
        with web.client(headers=auth, timeout=30) as client:
            sent = client.post("/api/v1/submissions", json={"exercise": SLUG, "files": files})
            assert sent.status_code == 201, sent.text
            submission_id = sent.json()["id"]
            statuses, done = _follow(client, f"/submissions/{submission_id}/events")
            final = client.get(f"/api/v1/submissions/{submission_id}").json()
    print(f"\nseen through the web process: {statuses}; done: {done}")
    assert statuses[0] in ("queued", "preparing") and statuses[-1] == "graded"
    assert {"training", "testing"} <= set(statuses)
    assert done is not None and done["status"] == "graded"
    assert final["status"] == "graded" and final["score"] == final["max_score"]


def _follow(client: httpx.Client, path: str) -> tuple[list[str], dict[str, str] | None]:
    """The `status` events of a stream until its `done` event (at most 3 minutes)."""
    statuses: list[str] = []
    deadline = time.monotonic() + 180
    with client.stream("GET", path, timeout=httpx.Timeout(30, read=60)) as stream:
        assert stream.status_code == 200
        event = ""
        for line in stream.iter_lines():
            if time.monotonic() > deadline:
                break
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                if event == "status":
                    statuses.append(data["status"])
                elif event == "done":
                    return statuses, data
    return statuses, None
