"""Hidden stays hidden: attack services on the flagship, graded through the real pipeline (the
suite in its own container), stored by the worker, and read back as the learner would.

Each service is the reference solution wrapped by an attack (tests/exercise/attacks/). None of
the hidden rows it received may reach the learner's JSON or HTML, in plain text, hex or base64;
the instructor's page shows what it smuggled, which proves the attack really carried rows.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.content.loader import load_settings_course
from servelab.db.migrate import upgrade
from servelab.db.models import Role
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.outcome import GradeOutcome
from servelab.grading.pipeline import grade_directory
from servelab.grading.worker import WorkerPool
from servelab.settings import PROJECT_ROOT, Settings
from support import PASSWORD, login

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SLUG = "fastapi-for-ml-apis"
GRADER = PROJECT_ROOT / "graders" / SLUG
ATTACKS = Path(__file__).parent / "attacks"
_HEX = re.compile(rb"[0-9a-fA-F]{16,}")
_B64 = re.compile(rb"[A-Za-z0-9+/]{16,}={0,2}")
_ID = re.compile(rb"(?<!\d)\d{5}(?!\d)")


def _hidden_ids() -> set[bytes]:
    """Every customer id of both hidden parts (train.csv's ids are 1 to 5,000: never these)."""
    ids: set[bytes] = set()
    for part in ("final", "feedback"):
        with (GRADER / "data" / part / "holdout.csv").open(newline="") as handle:
            ids |= {row["customer_id"].encode() for row in csv.DictReader(handle)}
    assert len(ids) == 8000 and all(len(i) == 5 for i in ids)
    return ids


HIDDEN_IDS = _hidden_ids()


def leaked_ids(text: bytes, depth: int = 2) -> set[bytes]:
    """Hidden ids found in text, or inside its hex or base64 runs (decoded twice over)."""
    found = set(_ID.findall(text)) & HIDDEN_IDS
    if depth == 0:
        return found
    for run in _HEX.findall(text):
        if len(run) % 2 == 0:
            found |= leaked_ids(binascii.unhexlify(run), depth - 1)
    for run in _B64.findall(text):
        try:
            found |= leaked_ids(base64.b64decode(run + b"=" * (-len(run) % 4)), depth - 1)
        except (binascii.Error, ValueError):
            continue
    return found


def test_the_leak_detector_finds_rows_in_every_encoding() -> None:
    row = b'{"customer_id": ' + sorted(HIDDEN_IDS)[7] + b', "plan": "basic"}'
    for encoded in (
        row,
        row.hex().encode(),
        base64.b64encode(row),
        base64.b64encode(row.hex().encode()),
    ):
        assert leaked_ids(b"xx " + encoded + b" yy") == {sorted(HIDDEN_IDS)[7]}
    assert leaked_ids(b"customer 4821 paid 72.40 in 2026") == set()


@pytest.fixture(scope="module")
def flagship(tmp_path_factory: pytest.TempPathFactory, runtime_image: str) -> Settings:
    settings = Settings(environment="test", var_dir=tmp_path_factory.mktemp("var"))
    upgrade(settings)
    return settings


def _submission(tmp_path: Path, attack: str) -> Path:
    folder = tmp_path / attack
    shutil.copytree(GRADER / "solution", folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "main.py").rename(folder / "reference_main.py")
    shutil.copy(ATTACKS / f"{attack}.py", folder / "main.py")
    return folder


def _stored_by_the_worker(settings: Settings, source: Path, outcome: GradeOutcome) -> int:
    """Store `outcome` through the real worker, as a learner's submission; returns its id."""
    from servelab.db.engine import make_engine

    engine = make_engine(settings)
    with Session(engine) as db:
        learner = accounts.get_user_by_email(db, email="learner@attack.test")
        if learner is None:
            learner = accounts.create_user(db, email="learner@attack.test", password=PASSWORD)
        assert learner.id is not None
        submission = queue.enqueue_submission(
            db, user_id=learner.id, exercise_slug=SLUG, source_dir=str(source)
        )
        submission_id = submission.id
    assert submission_id is not None
    course = load_settings_course(settings)
    pool = WorkerPool(
        settings, engine, course, size=1, poll_seconds=0.1, grade=lambda *a, **k: outcome
    )
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Session(engine) as db:
                row = db.get(Submission, submission_id)
                if row is not None and row.state.is_final:
                    break
            time.sleep(0.1)
    finally:
        pool.stop(timeout=10)
        engine.dispose()
    return submission_id


def _as_learner_and_instructor(settings: Settings, submission_id: int) -> tuple[bytes, bytes]:
    """What the learner can read (API JSON, result page, list) and the instructor's page."""
    from servelab.web.app import create_app

    app = create_app(settings)
    with TestClient(app) as client, Session(app.state.engine) as db:
        learner = accounts.get_user_by_email(db, email="learner@attack.test")
        instructor = accounts.get_user_by_email(db, email="teacher@attack.test")
        if instructor is None:
            instructor = accounts.create_user(
                db, email="teacher@attack.test", password=PASSWORD, role=Role.INSTRUCTOR
            )
        assert learner is not None
        login(client, learner)
        learner_view = b"\n".join(
            client.get(path, headers=headers).content
            for path, headers in (
                (f"/api/v1/submissions/{submission_id}", {}),
                ("/api/v1/submissions", {}),
                (f"/submissions/{submission_id}", {"accept": "text/html"}),
                ("/submissions", {"accept": "text/html"}),
                (f"/exercises/{SLUG}", {"accept": "text/html"}),
            )
        )
        client.post("/logout", data={"csrf_token": _csrf(client)})
        login(client, instructor)
        instructor_view = client.get(
            f"/instructor/submissions/{submission_id}", headers={"accept": "text/html"}
        ).content
    return learner_view, instructor_view


def _csrf(client: TestClient) -> str:
    match = re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/submissions").content)
    assert match
    return match.group(1).decode()


def _graded(settings: Settings, source: Path) -> tuple[GradeOutcome, float]:
    started = time.monotonic()
    exercise = load_settings_course(settings).find_exercise(SLUG, for_grading=True)
    outcome = grade_directory(source, exercise, settings)
    elapsed = time.monotonic() - started
    assert outcome.status == SubmissionStatus.GRADED, outcome.log_excerpt[-3000:]
    assert outcome.result is not None
    return outcome, elapsed


def test_rows_smuggled_in_keys_values_headers_and_the_log_never_reach_the_learner(
    flagship: Settings, tmp_path: Path
) -> None:
    outcome, elapsed = _graded(flagship, _submission(tmp_path, "smuggle"))
    assert outcome.result is not None
    assert len(outcome.result.model_dump_json().encode()) < 1_000_000
    submission_id = _stored_by_the_worker(flagship, tmp_path / "smuggle", outcome)
    learner_view, instructor_view = _as_learner_and_instructor(flagship, submission_id)
    smuggled = leaked_ids(outcome.log_excerpt.encode())
    print(
        f"\nsmuggler graded {outcome.score:g}/{outcome.max_score:g} in {elapsed:.1f} s; its log "
        f"carried {len(smuggled)} hidden ids; the learner's pages hold "
        f"{len(leaked_ids(learner_view))}"
    )
    assert smuggled  # the attack worked: its log holds hidden rows (the instructor sees them)
    assert leaked_ids(instructor_view)
    assert leaked_ids(learner_view) == set()
    contract = [t for t in outcome.result.tests if t.category == "contract"]
    assert any(t.status != "passed" for t in contract)  # its answers broke the contract...
    assert outcome.result.grader_warnings == []  # ...and the feedback quoted none of them


def test_a_crash_message_made_of_hidden_rows_never_reaches_the_learner(
    flagship: Settings, tmp_path: Path
) -> None:
    outcome, elapsed = _graded(flagship, _submission(tmp_path, "crash"))
    assert outcome.result is not None
    submission_id = _stored_by_the_worker(flagship, tmp_path / "crash", outcome)
    learner_view, _ = _as_learner_and_instructor(flagship, submission_id)
    print(f"\ncrasher graded {outcome.score:g}/{outcome.max_score:g} in {elapsed:.1f} s")
    assert "No module named" in outcome.log_excerpt  # what it printed, for instructors
    assert leaked_ids(outcome.log_excerpt.encode())
    assert "stopped while being tested" in outcome.learner_message
    assert "No module named" not in outcome.learner_message
    assert b"No module named" not in learner_view
    assert leaked_ids(learner_view) == set()


@pytest.fixture
def listener() -> Iterator[tuple[str, list[object]]]:
    """A loopback HTTP listener that records every connection it gets."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            connections.append(connection)
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/schema.json", connections
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_openapi_references_are_never_fetched_or_opened(
    flagship: Settings, tmp_path: Path, listener: tuple[str, list[object]]
) -> None:
    """http, https and file $refs (and a $ref cycle): the loopback listener gets no
    connection, the FIFO is never opened, and the two OpenAPI checks say why they failed."""
    url, connections = listener
    fifo = tmp_path / "secret.fifo"
    os.mkfifo(fifo)
    opened: list[bool] = []

    def writer() -> None:  # unblocks only if someone opens the FIFO for reading
        try:
            fd = os.open(fifo, os.O_WRONLY)
        except OSError:
            return
        opened.append(True)
        os.close(fd)

    watcher = threading.Thread(target=writer, daemon=True)
    watcher.start()
    source = _submission(tmp_path, "openapi_refs")
    targets = {"http": url, "https": "https://198.51.100.7/schema.json", "file": fifo.as_uri()}
    (source / "targets.json").write_text(json.dumps(targets))
    outcome, elapsed = _graded(flagship, source)
    assert outcome.result is not None
    checks = {t.nodeid.rsplit("::", 1)[-1]: t for t in outcome.result.tests}
    print(f"\nOpenAPI attacker graded {outcome.score:g}/{outcome.max_score:g} in {elapsed:.1f} s")
    assert connections == []
    assert opened == []
    for name in ("test_openapi_declares_endpoints", "test_fuzz_from_openapi_finds_no_5xx"):
        assert checks[name].status == "failed", checks[name]
        assert "#/" in checks[name].output, checks[name].output  # only local refs are followed
    assert checks["test_health"].status == "passed"
    if watcher.is_alive():  # release the writer thread
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        os.close(fd)
