"""Submitting (form, editor, API), what learners see of results, and live progress (SSE)."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import (
    HIDDEN_MARKER,
    NAN_NOTE,
    SLUG,
    TIMEOUT_REASON,
    TINY,
    course_settings,
    make_zip,
    sample_result,
    starter_zip,
    store_submission,
)
from sqlmodel import Session, select

from servelab.accounts import service as accounts
from servelab.db.models import Role, User
from servelab.db.models.grading import Submission, SubmissionEvent, SubmissionStatus
from servelab.grading import queue
from servelab.grading.submission_limits import MAX_ACTIVE_SUBMISSIONS
from servelab.settings import Settings
from support import csrf_from, login

HTML = {"accept": "text/html"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return course_settings(tmp_path)


def _submissions(db: Session) -> list[Submission]:
    db.expire_all()
    return list(db.exec(select(Submission)).all())


def _upload(client: TestClient, data: bytes, *, csrf: bool = True, slug: str = SLUG):  # type: ignore[no-untyped-def]
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


def _bearer(db: Session, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.create_api_token(db, user=user)}"}


def test_zip_upload_is_stored_in_its_own_folder_and_queued(
    client: TestClient, db: Session, make_user, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    login(client, learner)
    r = _upload(client, starter_zip())
    assert r.status_code == 303
    [submission] = _submissions(db)
    assert r.headers["location"] == f"/submissions/{submission.id}"
    assert submission.status == SubmissionStatus.QUEUED
    assert submission.user_id == learner.id and submission.exercise_slug == SLUG
    folder = Path(submission.source_dir)
    assert folder.parent == settings.submissions_dir
    assert sorted(p.name for p in folder.iterdir()) == ["main.py", "train.py"]
    assert (folder / "main.py").read_bytes() == (TINY / "starter" / "main.py").read_bytes()
    events = queue.get_events(db, submission_id=submission.id)  # type: ignore[arg-type]
    assert [e.status for e in events] == ["queued"]
    page = client.get(r.headers["location"], headers=HTML)
    assert page.status_code == 200 and "queued" in page.text
    assert '<meta http-equiv="refresh"' in page.text  # works without JavaScript


def test_a_queued_submission_says_how_many_are_ahead(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    first = store_submission(db, make_user(Role.LEARNER), status=SubmissionStatus.QUEUED)
    learner = make_user(Role.LEARNER)
    login(client, learner)
    r = _upload(client, starter_zip())
    html = client.get(r.headers["location"], headers=HTML).text
    assert "1 submission ahead of yours" in html
    assert f"/submissions/{first.id}" not in html


def test_editor_files_are_written_with_unix_newlines(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = client.post(
        f"/exercises/{SLUG}/submissions",
        data={
            "csrf_token": csrf_from(client, f"/exercises/{SLUG}"),
            "source": "editor",
            "train_py": "print('train')\r\n",
            "main_py": "from fastapi import FastAPI\r\napp = FastAPI()\r\n",
            "requirements_txt": "",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    [submission] = _submissions(db)
    folder = Path(submission.source_dir)
    assert sorted(p.name for p in folder.iterdir()) == ["main.py", "train.py"]
    assert (folder / "main.py").read_text() == "from fastapi import FastAPI\napp = FastAPI()\n"


def test_api_token_submission_with_json_files(client: TestClient, db: Session, make_user) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    files = {p.name: p.read_text() for p in (TINY / "starter").iterdir() if p.is_file()}
    r = client.post(
        "/api/v1/submissions",
        json={"exercise": SLUG, "files": files},
        headers=_bearer(db, learner),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "queued" and body["final"] is False and body["exercise"] == SLUG
    assert body["queued_ahead"] == 0
    assert r.headers["location"] == f"/api/v1/submissions/{body['id']}"
    [submission] = _submissions(db)
    assert submission.id == body["id"] and submission.user_id == learner.id
    assert sorted(p.name for p in Path(submission.source_dir).iterdir()) == ["main.py", "train.py"]


def test_api_token_submission_with_multipart_zip(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    r = client.post(
        "/api/v1/submissions",
        data={"exercise": SLUG},
        files={"archive": ("s.zip", starter_zip(), "application/zip")},
        headers=_bearer(db, learner),
    )
    assert r.status_code == 201, r.text
    got = client.get(r.headers["location"], headers=_bearer(db, learner)).json()
    assert got["status"] == "queued" and got["result"] is None
    misnamed = client.post(
        "/api/v1/submissions",
        data={"exercise": SLUG},
        files={"file": ("s.zip", starter_zip(), "application/zip")},
        headers=_bearer(db, learner),
    )
    assert misnamed.status_code == 422
    assert misnamed.json()["detail"] == [
        {
            "loc": ["body", "archive"],
            "msg": "Send the .zip in the multipart form field `archive`.",
            "type": "missing",
        }
    ]


def test_api_refuses_anonymous_wrong_slug_and_bad_bodies(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    auth = _bearer(db, make_user(Role.LEARNER))
    files = {"train.py": "x = 1\n", "main.py": "app = None\n"}
    assert (
        client.post("/api/v1/submissions", json={"exercise": SLUG, "files": files}).status_code
        == 401
    )
    r = client.post("/api/v1/submissions", json={"exercise": "nope", "files": files}, headers=auth)
    assert r.status_code == 404 and "no exercise called 'nope'" in r.json()["detail"]
    r = client.post(
        "/api/v1/submissions",
        json={"exercise": SLUG, "files": {**files, "../../outside.py": "x"}},
        headers=auth,
    )
    assert r.status_code == 400 and "climbs out of the submission folder" in r.json()["detail"]
    r = client.post(
        "/api/v1/submissions", json={"exercise": SLUG, "files": {"main.py": "app=1"}}, headers=auth
    )
    assert r.status_code == 400 and "train.py is empty" in r.json()["detail"]
    r = client.post("/api/v1/submissions", json={"exercise": SLUG}, headers=auth)
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "files"]]
    r = client.post(
        "/api/v1/submissions",
        content=b"{not json",
        headers={**auth, "content-type": "application/json"},
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/submissions", content=b"x", headers={**auth, "content-type": "text/plain"}
    )
    assert r.status_code == 415
    assert _submissions(db) == []


def test_an_api_body_with_many_problems_lists_twenty_and_counts_the_rest(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    auth = _bearer(db, make_user(Role.LEARNER))
    files = {f"{'f' * 2000}{n}.py": n for n in range(300)}
    r = client.post("/api/v1/submissions", json={"exercise": SLUG, "files": files}, headers=auth)
    assert r.status_code == 422
    detail = r.json()["detail"]  # the shape of every 422: loc, msg, type
    assert len(detail) == 21 and len(r.content) < 8000
    assert all(e["loc"][:2] == ["body", "files"] and len(e["loc"][2]) <= 80 for e in detail[:20])
    assert [e["msg"] for e in detail[:20]] == ["Input should be a valid string"] * 20
    assert detail[-1] == {"loc": [], "msg": "… and 280 more problems", "type": "too_many_errors"}
    assert _submissions(db) == []


def test_api_with_a_session_cookie_still_needs_the_csrf_header(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    body = {"exercise": SLUG, "files": {"train.py": "x = 1\n", "main.py": "app = 1\n"}}
    assert client.post("/api/v1/submissions", json=body).status_code == 403
    assert _submissions(db) == []
    # The login's own token (what its pages carry), not the anonymous double-submit cookie.
    stale = client.cookies.get("servelab_csrf")
    assert (
        client.post("/api/v1/submissions", json=body, headers={"X-CSRF-Token": stale}).status_code
        == 403
    )
    token = csrf_from(client, "/account")
    r = client.post("/api/v1/submissions", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


def test_form_submission_without_csrf_is_refused(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = _upload(client, starter_zip(), csrf=False)
    assert r.status_code == 403
    assert _submissions(db) == []


def test_zip_slip_is_refused_clearly_and_nothing_is_written_outside(
    client: TestClient, db: Session, make_user, settings: Settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    evil = make_zip({"train.py": "x=1\n", "main.py": "app=1\n", "../../escaped.py": "pwned\n"})
    r = _upload(client, evil)
    assert r.status_code == 400
    assert r.template.name == "exercise.html"  # type: ignore[attr-defined]
    assert "climbs out of the submission folder" in r.text
    assert _submissions(db) == []
    assert not list(tmp_path.rglob("escaped.py"))
    assert list(settings.submissions_dir.iterdir()) == []  # the staging folder is gone too


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a zip", "not a valid .zip archive"),
        (make_zip({"main.py": "app = 1\n"}), "has no train.py"),
        (make_zip({"train.py": b"\xff\xfe bad", "main.py": "app=1\n"}), "is not UTF-8"),
        (b"", "Choose a .zip file"),
    ],
)
def test_bad_archives_get_a_clear_message(
    client: TestClient, db: Session, make_user, data: bytes, message: str
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = _upload(client, data)
    assert r.status_code == 400
    assert message in r.text
    assert _submissions(db) == []


def test_zip_bomb_is_refused_with_a_clear_message(
    client: TestClient, db: Session, make_user, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("train.py", "x = 1\n")
        archive.writestr("main.py", "app = 1\n")
        archive.writestr("weights.bin", b"\0" * (60 * 2**20))
    assert len(buffer.getvalue()) < 2**20
    r = _upload(client, buffer.getvalue())
    assert r.status_code == 400 and "unpacks to more than 50.0 MiB" in r.text
    assert _submissions(db) == [] and list(settings.submissions_dir.iterdir()) == []


def test_requirements_the_image_lacks_are_refused_at_once(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    files = {p.name: p.read_text() for p in (TINY / "starter").iterdir() if p.is_file()}
    ok = make_zip({**files, "requirements.txt": "scikit-learn\nnumpy>=1.26\n"})
    assert _upload(client, ok).status_code == 303
    r = _upload(client, make_zip({**files, "requirements.txt": "torch==2.5\n"}))
    assert r.status_code == 400
    assert "torch is not in the runtime image" in r.text and "scikit-learn" in r.text
    assert len(_submissions(db)) == 1


def test_too_large_upload_is_refused_before_it_is_parsed(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    r = _upload(client, b"\0" * (11 * 2**20))
    assert r.status_code == 413
    assert "the limit is 10 MiB" in r.text
    assert _submissions(db) == []


def test_wrong_slug_in_form_is_404(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    assert _upload(client, starter_zip(), slug="nope").status_code == 404


def test_anonymous_form_submission_goes_to_login(client: TestClient, db: Session) -> None:
    r = _upload(client, starter_zip())
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _submissions(db) == []


def test_a_learner_may_have_only_a_few_submissions_waiting(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    for _ in range(MAX_ACTIVE_SUBMISSIONS):
        assert _upload(client, starter_zip()).status_code == 303
    r = _upload(client, starter_zip())
    assert r.status_code == 429
    assert "Wait for one of them to finish" in r.text
    assert len(_submissions(db)) == MAX_ACTIVE_SUBMISSIONS


def test_another_learners_submission_is_404_everywhere(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    owner, other = make_user(Role.LEARNER), make_user(Role.LEARNER)
    submission = store_submission(db, owner, result=sample_result())
    login(client, other)
    for path in (f"/submissions/{submission.id}", f"/submissions/{submission.id}/events"):
        assert client.get(path, headers=HTML).status_code == 404
    assert (
        client.get(f"/api/v1/submissions/{submission.id}", headers=_bearer(db, other)).status_code
        == 404
    )
    assert client.get("/api/v1/submissions", headers=_bearer(db, other)).json() == []
    assert f"/submissions/{submission.id}" not in client.get("/submissions", headers=HTML).text
    assert client.get("/submissions/999999", headers=HTML).status_code == 404


def test_instructor_can_open_any_submission(client: TestClient, db: Session, make_user) -> None:  # type: ignore[no-untyped-def]
    submission = store_submission(db, make_user(Role.LEARNER), result=sample_result())
    login(client, make_user(Role.INSTRUCTOR))
    r = client.get(f"/submissions/{submission.id}", headers=HTML)
    assert r.status_code == 200
    assert f"/instructor/submissions/{submission.id}" in r.text


def _learner_page_and_api(
    client: TestClient, db: Session, learner: User, sid: int
) -> tuple[str, str]:
    html = client.get(f"/submissions/{sid}", headers=HTML).text
    api = client.get(f"/api/v1/submissions/{sid}", headers=_bearer(db, learner)).text
    return html, api


INSTRUCTOR_ONLY = (
    HIDDEN_MARKER,
    "secret holdout check",
    "holdout value",
    "raw pytest output",
    "whole pytest session output",
    "test_tiny.py::",
    "worker-host-7",
)


def test_learner_sees_feedback_but_never_hidden_checks_or_raw_output(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    submission = store_submission(db, learner, result=sample_result())
    login(client, learner)
    html, api = _learner_page_and_api(client, db, learner, submission.id)  # type: ignore[arg-type]
    for text in (html, api):
        for secret in INSTRUCTOR_ONLY:
            assert secret not in text
        assert "after due check" not in text  # not yet: the exercise has no due date passed
        assert "health answers" in text and "rejects NaN" in text
        assert "return 422 for non-finite numbers" in text
    assert 'href="/lessons/tiny#nan-and-infinity"' in html
    assert "Error per slice" in html and "0.125" in html
    # The grade is the whole score; the category totals cover what the learner can see.
    result = json.loads(api)["result"]
    assert (result["score"], result["max_score"]) == (25, 50)
    assert [(c["category"], c["score"], c["max_score"]) for c in result["categories"]] == [
        ("contract", 10, 20)
    ]
    first = json.loads(api)["events"][0]
    assert first["status"] == "queued"
    assert datetime.fromisoformat(first["at"]) == submission.requested_at.replace(tzinfo=UTC)


def test_each_feedback_message_shows_once_with_the_reason_the_check_failed(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    submission = store_submission(db, learner, result=sample_result())
    login(client, learner)
    html = client.get(f"/submissions/{submission.id}", headers=HTML).text
    # The plugin joins the notes into `output` and appends why the service failed the check.
    assert html.count(NAN_NOTE) == 1
    assert html.count(TIMEOUT_REASON) == 1
    assert html.count('The check "secret holdout check"') == 0  # hidden: not shown at all


def test_after_due_checks_appear_once_the_due_date_has_passed(tmp_path: Path, make_user) -> None:  # type: ignore[no-untyped-def]
    from servelab.db.migrate import upgrade
    from servelab.web.app import create_app

    past_due = course_settings(tmp_path / "due", due="2020-01-01T00:00:00Z")
    upgrade(past_due)
    app = create_app(past_due)
    with Session(app.state.engine) as db, TestClient(app) as client:
        learner = accounts.create_user(
            db, email="due@example.org", password="correct horse battery"
        )
        submission = store_submission(db, learner, result=sample_result())
        login(client, learner)
        html, api = _learner_page_and_api(client, db, learner, submission.id)  # type: ignore[arg-type]
        for text in (html, api):
            assert "after due check" in text
            assert "secret holdout check" not in text and HIDDEN_MARKER not in text


def test_failed_submission_shows_the_learners_log_but_platform_errors_do_not(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    failed = store_submission(
        db,
        learner,
        status=SubmissionStatus.FAILED,
        learner_message="train.py exited with status 1.",
        log_excerpt="Traceback: NameError: name 'pd' is not defined",
    )
    errored = store_submission(
        db,
        learner,
        status=SubmissionStatus.ERROR,
        learner_message="ServeLab could not grade this because of a problem on our side.",
        log_excerpt="docker.errors.APIError: /var/lib/servelab secret path",
    )
    login(client, learner)
    html = client.get(f"/submissions/{failed.id}", headers=HTML).text
    assert "train.py exited with status 1." in html and "NameError: name &#39;pd&#39;" in html
    html, api = _learner_page_and_api(client, db, learner, errored.id)  # type: ignore[arg-type]
    for text in (html, api):
        assert "problem on our side" in text
        assert "docker.errors" not in text and "secret path" not in text


def test_service_log_of_a_graded_submission_stays_with_instructors(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    """A service could print the hidden requests it received; its log must not reach the learner."""
    learner = make_user(Role.LEARNER)
    submission = store_submission(
        db,
        learner,
        result=sample_result(),
        learner_message="Graded: 25 of 50 points (2 of 4 checks passed).",
        log_excerpt='got {"customer_id": 91234, "tenure_months": 17.5} from the holdout',
    )
    login(client, learner)
    html, api = _learner_page_and_api(client, db, learner, submission.id)  # type: ignore[arg-type]
    for text in (html, api):
        assert "Graded: 25 of 50 points" in text
        assert "91234" not in text and "from the holdout" not in text


def test_my_submissions_lists_only_mine(client: TestClient, db: Session, make_user) -> None:  # type: ignore[no-untyped-def]
    me, other = make_user(Role.LEARNER), make_user(Role.LEARNER)
    mine = store_submission(db, me, result=sample_result())
    theirs = store_submission(db, other, result=sample_result())
    login(client, me)
    r = client.get("/submissions", headers=HTML)
    assert [s.id for s in r.context["submissions"]] == [mine.id]  # type: ignore[attr-defined]
    assert f'href="/submissions/{theirs.id}"' not in r.text
    listed = client.get("/api/v1/submissions", headers=_bearer(db, me)).json()
    assert [s["id"] for s in listed] == [mine.id]
    assert client.get("/api/v1/submissions?exercise=other", headers=_bearer(db, me)).json() == []


def _read_events(client: TestClient, path: str) -> list[tuple[str, dict]]:
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


def test_event_stream_ends_at_once_for_a_finished_submission(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    submission = store_submission(db, learner, result=sample_result())
    login(client, learner)
    events = _read_events(client, f"/submissions/{submission.id}/events")
    assert [(n, e["status"]) for n, e in events] == [
        ("status", "queued"),
        ("status", "preparing"),
        ("status", "graded"),
        ("done", "graded"),
    ]
    assert all("detail" not in e for _, e in events)


def test_event_stream_follows_a_submission_until_it_is_final(
    client: TestClient, db: Session, make_user, app
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    submission = store_submission(db, learner, status=SubmissionStatus.QUEUED)
    login(client, learner)

    def worker() -> None:
        with Session(app.state.engine) as session:
            for state in (SubmissionStatus.TRAINING, SubmissionStatus.FAILED):
                time.sleep(0.7)
                row = session.get(Submission, submission.id)
                assert row is not None
                row.status = state
                session.add(row)
                session.add(
                    SubmissionEvent(submission_id=row.id, status=state, at=datetime.now(UTC))
                )  # type: ignore[arg-type]
                session.commit()

    thread = threading.Thread(target=worker)
    started = time.monotonic()
    thread.start()
    events = _read_events(client, f"/submissions/{submission.id}/events")
    thread.join()
    assert time.monotonic() - started < 10
    assert [(n, e["status"]) for n, e in events][-3:] == [
        ("status", "training"),
        ("status", "failed"),
        ("done", "failed"),
    ]


def _docker_ready(settings: Settings) -> bool:
    try:
        import docker

        from servelab.grading.images import images_ready

        client = docker.from_env()
        client.ping()
        return images_ready(settings, client)
    except Exception:
        return False


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_end_to_end_through_the_api_with_the_embedded_worker_and_docker(tmp_path: Path) -> None:
    """The app's own pool, real Docker: the reference solution gets full marks, a broken
    one a clear failure with its log, and the browser pages show both."""
    from grading_web_helpers import TINY_GRADERS

    from servelab.db.migrate import upgrade
    from servelab.web.app import create_app
    from support import require_service

    settings = course_settings(tmp_path, embedded_worker=True, worker_count=1)
    require_service(
        _docker_ready(settings), "Docker with the runtime image (servelab runtime build)"
    )
    upgrade(settings)
    app = create_app(settings)
    solution = {p.name: p.read_text() for p in (TINY_GRADERS / "solution").iterdir() if p.is_file()}
    broken = {**solution, "train.py": "import pandas as pd\nraise SystemExit('no model today')\n"}
    with TestClient(app) as client, Session(app.state.engine) as db:
        assert app.state.grading_pool is not None
        learner = accounts.create_user(
            db, email="e2e@example.org", password="correct horse battery"
        )
        auth = _bearer(db, learner)
        ids = []
        for files in (solution, broken):
            r = client.post(
                "/api/v1/submissions", json={"exercise": SLUG, "files": files}, headers=auth
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        deadline = time.monotonic() + 400
        views: dict[int, dict] = {}
        while time.monotonic() < deadline and len(views) < len(ids):
            for sid in ids:
                view = client.get(f"/api/v1/submissions/{sid}", headers=auth).json()
                if view["final"]:
                    views[sid] = view
            time.sleep(0.3)
        good, bad = views[ids[0]], views[ids[1]]
        assert good["status"] == "graded", good
        assert good["score"] == good["max_score"] > 0
        assert {"training", "starting", "testing", "graded"} <= {
            e["status"] for e in good["events"]
        }
        assert good["result"]["tests"] and all(
            t["instructor_output"] == "" for t in good["result"]["tests"]
        )
        assert bad["status"] == "failed" and bad["result"] is None
        assert "no model today" in bad["log_excerpt"]
        login(client, learner)
        page = client.get(f"/submissions/{ids[1]}", headers=HTML).text
        assert "no model today" in page and "could not be graded" in page
        page = client.get(f"/submissions/{ids[0]}", headers=HTML).text
        assert f"Score: {good['score']}" in page and "http-equiv" not in page
        import docker

        from servelab.grading.orphans import OWNER_LABEL
        from servelab.grading.processes import owner_token

        mine = docker.from_env().containers.list(
            all=True, filters={"label": f"{OWNER_LABEL}={owner_token()}"}
        )
        assert mine == []  # whatever happened, no container this process created is left
        assert _read_events(client, f"/submissions/{ids[0]}/events")[-1] == (
            "done",
            {"status": "graded", "page": f"/submissions/{ids[0]}"},
        )
