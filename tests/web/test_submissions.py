"""A learner's submissions (routes/submissions.py): the list, a submission's page with what
the learner may see of its result, and live progress (SSE)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import (
    HIDDEN_MARKER,
    HTML,
    NAN_NOTE,
    TIMEOUT_REASON,
    bearer_headers,
    course_settings,
    read_events,
    sample_result,
    starter_zip,
    store_submission,
    upload_zip,
)
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.models import Role, User
from servelab.db.models.grading import Submission, SubmissionEvent, SubmissionStatus
from servelab.settings import Settings
from support import login


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    return tiny_settings


def test_a_queued_submission_says_how_many_are_ahead(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    first = store_submission(db, make_user(Role.LEARNER), status=SubmissionStatus.QUEUED)
    learner = make_user(Role.LEARNER)
    login(client, learner)
    r = upload_zip(client, starter_zip())
    html = client.get(r.headers["location"], headers=HTML).text
    assert "1 submission ahead of yours" in html
    assert f"/submissions/{first.id}" not in html


def test_another_learners_submission_is_404_everywhere(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    owner, other = make_user(Role.LEARNER), make_user(Role.LEARNER)
    submission = store_submission(db, owner, result=sample_result())
    login(client, other)
    for path in (f"/submissions/{submission.id}", f"/submissions/{submission.id}/events"):
        assert client.get(path, headers=HTML).status_code == 404
    assert (
        client.get(
            f"/api/v1/submissions/{submission.id}", headers=bearer_headers(db, other)
        ).status_code
        == 404
    )
    assert client.get("/api/v1/submissions", headers=bearer_headers(db, other)).json() == []
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
    api = client.get(f"/api/v1/submissions/{sid}", headers=bearer_headers(db, learner)).text
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
    learner_client: TestClient, learner: User, stored
) -> None:  # type: ignore[no-untyped-def]
    submission = stored(learner, result=sample_result())
    html = learner_client.get(f"/submissions/{submission.id}", headers=HTML).text
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
    listed = client.get("/api/v1/submissions", headers=bearer_headers(db, me)).json()
    assert [s["id"] for s in listed] == [mine.id]
    assert (
        client.get("/api/v1/submissions?exercise=other", headers=bearer_headers(db, me)).json()
        == []
    )


def test_event_stream_ends_at_once_for_a_finished_submission(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    submission = store_submission(db, learner, result=sample_result())
    login(client, learner)
    events = read_events(client, f"/submissions/{submission.id}/events")
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
    events = read_events(client, f"/submissions/{submission.id}/events")
    thread.join()
    assert time.monotonic() - started < 10
    assert [(n, e["status"]) for n, e in events][-3:] == [
        ("status", "training"),
        ("status", "failed"),
        ("done", "failed"),
    ]
