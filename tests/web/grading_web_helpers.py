"""A small course for the grading web tests, built in a temporary folder.

It holds one exercise, `tiny`: the foundation's valid fixture lesson plus the grading
engine's tiny-regression exercise (instructions, starter, data) and its hidden grader
suite. The starter also gets a few things that must never reach a learner's download.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from servelab.accounts import users as accounts
from servelab.db.models import User
from servelab.db.models.grading import Submission, SubmissionEvent, SubmissionStatus
from servelab.grading.guarded_http import Problem, ServiceLimits
from servelab.grading.report import CheckRecord, RawNote, RawTable, build_document
from servelab.grading.results import CheckStatus, ResultDocument, Visibility
from servelab.settings import PROJECT_ROOT, Settings
from support import csrf_from

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
TINY = FIXTURES / "course" / "exercises" / "tiny-regression"
TINY_GRADERS = FIXTURES / "course" / "graders" / "tiny-regression"
SLUG = "tiny"
HIDDEN_MARKER = "HIDDEN-ASSERTION-TEXT-42"
HTML = {"accept": "text/html"}  # what a browser asks for: errors come as pages


def build_course(root: Path, *, due: str | None = None) -> tuple[Path, Path]:
    """Write exercises/tiny and graders/tiny under root; returns (exercises_dir, graders_dir)."""
    exercises = root / "exercises"
    graders = root / "graders"
    folder = exercises / SLUG
    shutil.copytree(FIXTURES / "content" / "valid" / SLUG, folder)
    shutil.copytree(TINY / "starter", folder / "starter")
    shutil.copytree(TINY / "data", folder / "data")
    shutil.copy(TINY / "exercise.md", folder / "exercise.md")
    toml = (TINY / "exercise.toml").read_text(encoding="utf-8")
    if due:
        toml = toml.replace('health_path = "/health"', f'health_path = "/health"\ndue = {due}')
    (folder / "exercise.toml").write_text(toml, encoding="utf-8")
    shutil.copytree(TINY_GRADERS, graders / SLUG)
    # Things a starter download must leave out.
    (folder / "starter" / "__pycache__").mkdir()
    (folder / "starter" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (folder / "starter" / "leak.py").symlink_to(graders / SLUG / "test_tiny.py")
    return exercises, graders


def course_settings(tmp_path: Path, **overrides: object) -> Settings:
    exercises, graders = build_course(tmp_path / "course", due=overrides.pop("due", None))  # type: ignore[arg-type]
    return Settings(
        environment="test",
        var_dir=tmp_path / "var",
        exercises_dir=exercises,
        graders_dir=graders,
        **overrides,  # type: ignore[arg-type]
    )


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def starter_zip() -> bytes:
    return make_zip({p.name: p.read_bytes() for p in (TINY / "starter").iterdir() if p.is_file()})


# What the real plugin would have recorded, check by check: the document is then built by the
# plugin's own report functions (report.build_document), so its `output` and `feedback` are
# the ones the result page gets in production (a hand-built document once hid a bug there).
SAMPLE_LABELS = {"contract": "API contract", "baseline": "Beats the baseline"}
NAN_NOTE = "POST /predict accepted NaN; return 422 for non-finite numbers."
TIMEOUT_REASON = (
    "rejects NaN&#34; did not pass: your service did not answer in time."  # as HTML-escaped
)


def check_record(
    nodeid: str, name: str, points: float, category: str, visibility: Visibility, **kw
):  # type: ignore[no-untyped-def]
    return CheckRecord(
        nodeid=nodeid,
        name=name,
        points=points,
        category=category,
        visibility=visibility,
        not_run=None,
        finished=True,
        **kw,
    )


def sample_result() -> ResultDocument:
    """A graded document with one check of each visibility, feedback with a section, a reason
    the service made a check fail, a table and raw output; 25 of 50 points."""
    checks = [
        check_record(
            "test_tiny.py::test_health",
            "health answers",
            10,
            "contract",
            Visibility.VISIBLE,
            tables=[RawTable("Error per slice", [{"slice": "low x", "mae": 0.125}])],
            raw=["raw pytest output for health"],
        ),
        check_record(
            "test_tiny.py::test_nan",
            "rejects NaN",
            10,
            "contract",
            Visibility.VISIBLE,
            status=CheckStatus.FAILED,
            feedback=[RawNote(NAN_NOTE, "nan-and-infinity")],
            problems={Problem.TIMED_OUT},
            raw=[f"AssertionError: {HIDDEN_MARKER} expected 422 got 200"],
        ),
        check_record(
            "test_tiny.py::test_secret",
            "secret holdout check",
            15,
            "baseline",
            Visibility.HIDDEN,
            status=CheckStatus.FAILED,
            raw=["holdout value 0.8123"],
        ),
        check_record(
            "test_tiny.py::test_secret_baseline",
            "secret holdout baseline",
            5,
            "baseline",
            Visibility.HIDDEN,
        ),
        check_record(
            "test_tiny.py::test_after_due", "after due check", 10, "baseline", Visibility.AFTER_DUE
        ),
    ]
    doc = build_result(checks, suite_errors=["boom"])
    # What the runner adds once the grader container has ended (runner._outcome).
    return doc.model_copy(update={"instructor_output": "whole pytest session output"})


def build_result(checks: list[CheckRecord], *, suite_errors: Sequence[str] = ()) -> ResultDocument:
    """The document the plugin's own report functions build from these checks."""
    return build_document(
        checks,
        started=time.monotonic(),
        leaderboard=[],
        suite_errors=list(suite_errors),
        warnings=[],
        redactor=None,
        limits=ServiceLimits(),
        labels=SAMPLE_LABELS,
        complete=True,
    )


def store_submission(
    session: Session,
    user: User,
    *,
    status: SubmissionStatus = SubmissionStatus.GRADED,
    result: ResultDocument | None = None,
    log_excerpt: str = "",
    train_log: str = "",
    learner_message: str = "",
    slug: str = SLUG,
    requested_at: datetime | None = None,
) -> Submission:
    """A submission row as the worker leaves it, with its transitions."""
    now = requested_at or datetime.now(UTC)
    final = status in (SubmissionStatus.GRADED, SubmissionStatus.FAILED, SubmissionStatus.ERROR)
    submission = Submission(
        user_id=user.id,  # type: ignore[arg-type]
        exercise_slug=slug,
        status=status,
        source_dir="/nonexistent",
        score=result.score if result else None,
        max_score=result.max_score if result else None,
        result_json=result.model_dump_json() if result else None,
        learner_message=learner_message,
        log_excerpt=log_excerpt,
        train_log=train_log or None,
        phase_seconds_json=json.dumps({"train": 1.5, "startup": 0.8, "test": 2.25}),
        requested_at=now,
        queued_at=now,
        finished_at=now if final else None,
        graded_at=now if final else None,
        updated_at=now,
        attempts=1,
    )
    session.add(submission)
    session.flush()
    assert submission.id is not None
    for state in (SubmissionStatus.QUEUED, SubmissionStatus.PREPARING, status):
        session.add(
            SubmissionEvent(
                submission_id=submission.id, status=state, at=now, detail=f"worker-host-7 {state}"
            )
        )
    session.commit()
    session.refresh(submission)
    return submission


def all_submissions(db: Session) -> list[Submission]:
    db.expire_all()
    return list(db.exec(select(Submission)).all())


def bearer_headers(db: Session, user: User) -> dict[str, str]:
    """Authorization headers with a fresh API token of the user."""
    return {"Authorization": f"Bearer {accounts.create_api_token(db, user=user)}"}


def upload_zip(client: TestClient, data: bytes, *, csrf: bool = True, slug: str = SLUG):  # type: ignore[no-untyped-def]
    """The exercise page's upload form, sent as a browser sends it."""
    fields = {"source": "zip"}
    if csrf:
        fields["csrf_token"] = csrf_from(client, "/login")
    return client.post(
        f"/exercises/{slug}/submissions",
        data=fields,
        files={"archive": ("submission.zip", data, "application/zip")},
        headers=HTML,
        follow_redirects=False,
    )


def read_events(client: TestClient, path: str) -> list[tuple[str, dict]]:
    """A submission's event stream read to its end, as (event name, data) pairs."""
    events: list[tuple[str, dict]] = []
    name = ""
    with client.stream("GET", path, headers={"accept": "text/event-stream"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    return events
