"""`servelab submit` against real servers (platform/servelab/cli/submit.py): a running
ServeLab (`servelab serve` on loopback) grades the flagship reference to full marks, refuses
what it refuses with its own message; servers that are down, answer too much or answer
something else end the command with a clear message. The token is never printed."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import Result
from sqlmodel import Session
from typer.testing import CliRunner

from live_server import LiveServer, free_port, live_server
from servelab.accounts import users as accounts
from servelab.cli import app
from servelab.db.engine import make_engine
from servelab.settings import PROJECT_ROOT, Settings
from support import COURSE, PASSWORD, SLUG, SOLUTION, copy_submission

FLAGSHIP = "fastapi-for-ml-apis"
FLAGSHIP_REFERENCE = PROJECT_ROOT / "graders" / FLAGSHIP / "solution"
runner = CliRunner()


def _submit(folder: Path, server: str, token: str, *args: str) -> Result:
    """`servelab submit` as a learner runs it, the token in SERVELAB_TOKEN."""
    result = runner.invoke(
        app,
        ["submit", str(folder), "--server", server, *args],
        env={"SERVELAB_TOKEN": token, "COLUMNS": "200"},
    )
    assert token not in result.stdout + result.stderr, "the token was printed"
    return result


def _learner_token(settings: Settings, email: str = "learner@example.org") -> str:
    engine = make_engine(settings)
    with Session(engine) as db:
        user = accounts.create_user(db, email=email, password=PASSWORD)
        token = accounts.create_api_token(db, user=user, name="test")
    engine.dispose()
    return token


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """The flagship course on a real server with no grading worker: submissions stay queued."""
    with live_server(settings, tmp_path) as running:
        yield running


def test_a_wrong_token_is_refused_before_any_upload(server: LiveServer) -> None:
    done = _submit(FLAGSHIP_REFERENCE, server.base_url, "slat_not-a-real-token", "-e", FLAGSHIP)
    assert done.exit_code == 2, done.output
    assert "did not accept the API token" in done.stderr
    assert "/account" in done.stderr


def test_the_servers_refusal_is_shown_as_it_says_it(server: LiveServer, settings: Settings) -> None:
    token = _learner_token(settings)
    done = _submit(FLAGSHIP_REFERENCE, server.base_url, token, "-e", "no-such-exercise")
    assert done.exit_code == 1, done.output
    assert "There is no exercise called 'no-such-exercise'." in done.stderr
    assert FLAGSHIP in done.stderr  # the server's list of known exercises


def test_out_of_time_while_queued_says_where_to_follow_it(
    server: LiveServer, settings: Settings
) -> None:
    token = _learner_token(settings)
    done = _submit(FLAGSHIP_REFERENCE, server.base_url, token, "-e", FLAGSHIP, "--timeout", "3")
    assert done.exit_code == 3, done.output
    report = json.loads(
        _submit(
            FLAGSHIP_REFERENCE, server.base_url, token, "-e", FLAGSHIP, "--timeout", "2", "--json"
        ).stdout
    )
    print(f"\n{done.stderr}\n{report['error']}")
    assert "Still queued after 3 s (--timeout)" in done.stderr
    submission = report["submission"]
    assert report["error"]["kind"] == "timeout"
    assert submission["status"] == "queued" and submission["final"] is False
    assert f"{server.base_url}/submissions/{submission['id']}" in report["error"]["message"]


def test_a_server_that_is_down() -> None:
    done = _submit(SOLUTION, f"http://127.0.0.1:{free_port()}", "slat_x", "-e", SLUG)
    assert done.exit_code == 2
    assert "Cannot reach ServeLab at http://127.0.0.1:" in done.stderr
    assert "Check --server and that the server is running." in done.stderr


class _OddServer(BaseHTTPRequestHandler):
    """Not ServeLab: /big answers without end, /html answers a web page, /moved redirects
    elsewhere. Every request's path is recorded."""

    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path.startswith("/moved"):
            self.send_response(307)
            self.send_header("Location", "/elsewhere/api/v1/me")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        if self.path.startswith("/html"):
            body = b"<html><body>Welcome to nginx!</body></html>"
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Content-Type", "application/json")  # no length: read until closed
        self.end_headers()
        try:
            for _ in range(64):  # 64 MiB at most, far past the client's cap
                self.wfile.write(b" " * 1024 * 1024)
        except OSError:
            pass  # the client hung up, as it should

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def odd_server() -> Iterator[str]:
    _OddServer.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _OddServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def test_an_endless_answer_is_cut_at_the_cap(odd_server: str) -> None:
    done = _submit(SOLUTION, f"{odd_server}/big", "slat_x", "-e", SLUG)
    assert done.exit_code == 2
    assert "with more than 4 MiB, which ServeLab never sends" in done.stderr


def test_a_web_page_is_not_the_api(odd_server: str) -> None:
    done = _submit(SOLUTION, f"{odd_server}/html", "slat_x", "-e", SLUG)
    assert done.exit_code == 2
    assert "something that is not ServeLab's API" in done.stderr


def test_a_redirect_is_not_followed_with_the_token(odd_server: str) -> None:
    done = _submit(SOLUTION, f"{odd_server}/moved", "slat_x", "-e", SLUG)
    assert done.exit_code == 2
    assert "HTTP 307, not with ServeLab's API" in done.stderr
    assert _OddServer.seen == ["/moved/api/v1/me"]


def test_a_refused_folder_uploads_nothing(tmp_path: Path, odd_server: str) -> None:
    folder = copy_submission(SOLUTION, tmp_path / "sub")
    (folder / "main.py").unlink()
    done = _submit(folder, odd_server, "slat_x", "-e", SLUG, "--json")
    assert done.exit_code == 1
    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "refused"
    assert error["message"].startswith("Nothing was uploaded: Your submission has no main.py.")
    assert _OddServer.seen == []


@pytest.mark.docker
@pytest.mark.slow
def test_the_flagship_reference_gets_full_marks(
    settings: Settings, tmp_path: Path, grader_image: str
) -> None:
    with live_server(
        settings, tmp_path, SERVELAB_EMBEDDED_WORKER="true", SERVELAB_WORKER_COUNT="1"
    ) as running:
        token = _learner_token(settings)
        started = time.monotonic()
        done = _submit(FLAGSHIP_REFERENCE, running.base_url, token, "-e", FLAGSHIP)
        seconds = time.monotonic() - started
    print(f"\n{done.stderr}\n{done.stdout}\nservelab submit took {seconds:.1f} s in all")
    assert done.exit_code == 0, done.output
    for phase in ("queued", "preparing", "training", "starting", "testing"):
        assert f"✓ {phase}" in done.stderr
    graded = re.search(
        r"Graded: (\S+) of (\S+) points \((\d+) of (\d+) checks passed\)", done.stdout
    )
    assert graded, done.stdout
    assert graded[1] == graded[2] and graded[3] == graded[4] and float(graded[2]) > 0
    assert "API contract:" in done.stdout and "Quality per slice:" in done.stdout
    assert re.search(rf"Submission \d+: {running.base_url}/submissions/\d+", done.stdout)


@pytest.mark.docker
@pytest.mark.slow
def test_a_failed_training_exits_1_with_its_log_and_json_is_the_api_shape(
    tmp_path: Path, grader_image: str
) -> None:
    settings = Settings(
        environment="test",
        var_dir=tmp_path / "var",
        exercises_dir=COURSE / "exercises",
        graders_dir=COURSE / "graders",
    )
    broken = copy_submission(
        SOLUTION,
        tmp_path / "broken",
        train__py="import sys\nprint('loading rows')\nsys.exit('the data has no column y2')\n",
    )
    with live_server(
        settings, tmp_path, SERVELAB_EMBEDDED_WORKER="true", SERVELAB_WORKER_COUNT="1"
    ) as running:
        token = _learner_token(settings)
        failed = _submit(broken, running.base_url, token, "-e", SLUG)
        graded = _submit(SOLUTION, running.base_url, token, "-e", SLUG, "--json")
    print(f"\n{failed.stderr}\n{failed.stdout}")
    assert failed.exit_code == 1, failed.output
    assert "✗ training" in failed.stderr
    assert "Failed: train.py stopped with exit code 1" in failed.stdout
    assert "the data has no column y2" in failed.stdout
    assert graded.exit_code == 0, graded.output
    doc = json.loads(graded.stdout)
    assert doc["status"] == "graded" and doc["final"] is True
    assert doc["score"] == doc["max_score"] == doc["result"]["max_score"]
    assert all(
        not test["nodeid"] and not test["instructor_output"] for test in doc["result"]["tests"]
    )


def test_an_upload_over_the_active_limit_shows_the_servers_429(
    server: LiveServer, settings: Settings
) -> None:
    token = _learner_token(settings)
    waiting = [
        _submit(FLAGSHIP_REFERENCE, server.base_url, token, "-e", FLAGSHIP, "--timeout", "1")
        for _ in range(3)
    ]
    assert [done.exit_code for done in waiting] == [3, 3, 3]  # accepted, still queued
    refused = _submit(FLAGSHIP_REFERENCE, server.base_url, token, "-e", FLAGSHIP, "--json")
    assert refused.exit_code == 1, refused.output
    error = json.loads(refused.stdout)["error"]
    assert error["kind"] == "refused" and error["status_code"] == 429
    assert error["message"].startswith("You already have 3 submissions waiting or being graded.")
