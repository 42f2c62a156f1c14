"""The instructor area's grading side: index, all results, full view, regrade, grades CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import (
    HIDDEN_MARKER,
    HTML,
    SLUG,
    course_settings,
    sample_result,
    store_submission,
)
from sqlmodel import Session

from servelab.db.models import Role
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from servelab.grading.results import ResultDocument
from servelab.settings import Settings
from support import csrf_from, login


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    return tiny_settings


def _status(db: Session, submission_id: int) -> str:
    db.expire_all()
    row = db.get(Submission, submission_id)
    assert row is not None
    return row.status


def test_learners_get_403_on_every_instructor_page_and_action(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    submission = store_submission(db, learner, result=sample_result())
    login(client, learner)
    token = csrf_from(client, "/login")
    for path in (
        "/instructor",
        f"/instructor/exercises/{SLUG}/submissions",
        f"/instructor/exercises/{SLUG}/grades.csv",
        f"/instructor/submissions/{submission.id}",
    ):
        assert client.get(path, headers=HTML).status_code == 403, path
    for path in (
        f"/instructor/submissions/{submission.id}/regrade",
        f"/instructor/exercises/{SLUG}/regrade",
    ):
        r = client.post(path, data={"csrf_token": token}, headers=HTML, follow_redirects=False)
        assert r.status_code == 403, path
    assert _status(db, submission.id) == "graded"  # type: ignore[arg-type]


def test_anonymous_visitors_are_sent_to_log_in(client: TestClient) -> None:
    r = client.get("/instructor", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get(f"/instructor/exercises/{SLUG}/grades.csv").status_code == 401


def test_index_links_grading_exports_and_quiz_analytics(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    store_submission(db, make_user(Role.LEARNER), result=sample_result())
    store_submission(db, make_user(Role.LEARNER), status=SubmissionStatus.QUEUED)
    login(client, make_user(Role.INSTRUCTOR))
    r = client.get("/instructor", headers=HTML)
    assert r.status_code == 200 and r.template.name == "instructor/index.html"  # type: ignore[attr-defined]
    assert r.context["counts"][SLUG] == {"graded": 1, "queued": 1}  # type: ignore[attr-defined]
    html = r.text
    assert f'href="/instructor/exercises/{SLUG}/submissions"' in html
    assert f'href="/instructor/exercises/{SLUG}/grades.csv?pick=best"' in html
    assert f'href="/instructor/quizzes/{SLUG}"' in html


def test_all_results_of_an_exercise_with_scores_categories_and_timings(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    ada = make_user(Role.LEARNER, email="ada@example.org")
    graded = store_submission(db, ada, result=sample_result())
    failed = store_submission(db, make_user(Role.LEARNER), status=SubmissionStatus.FAILED)
    login(client, make_user(Role.INSTRUCTOR))
    r = client.get(f"/instructor/exercises/{SLUG}/submissions", headers=HTML)
    assert r.status_code == 200
    rows = r.context["rows"]  # type: ignore[attr-defined]
    assert {row.submission.id for row in rows} == {graded.id, failed.id}
    assert r.context["categories"] == ["contract", "baseline"]  # type: ignore[attr-defined]
    html = r.text
    assert "ada@example.org" in html
    assert "25.0 / 50.0" in html  # total, hidden checks included
    assert "15.0 / 30.0" in html  # baseline: hidden + after-due checks count for instructors
    assert "1.5" in html and "2.2" in html  # train and test seconds
    assert f'href="/instructor/submissions/{failed.id}"' in html


def test_full_view_shows_hidden_checks_raw_output_and_platform_details(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    submission = store_submission(db, make_user(Role.LEARNER), result=sample_result())
    errored = store_submission(
        db, make_user(Role.LEARNER), status=SubmissionStatus.ERROR, log_excerpt="docker said no"
    )
    login(client, make_user(Role.INSTRUCTOR))
    html = client.get(f"/instructor/submissions/{submission.id}", headers=HTML).text
    for text in (
        HIDDEN_MARKER,
        "secret holdout check",
        "after due check",
        "holdout value",
        "whole pytest session output",
        "boom",
        "test_tiny.py::test_nan",
        "worker-host-7",
    ):
        assert text in html
    assert (
        "docker said no" in client.get(f"/instructor/submissions/{errored.id}", headers=HTML).text
    )
    assert client.get("/instructor/submissions/424242", headers=HTML).status_code == 404


def test_regrade_one_requires_csrf_and_queues_it_again(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    submission = store_submission(db, make_user(Role.LEARNER), result=sample_result())
    instructor = make_user(Role.INSTRUCTOR)
    login(client, instructor)
    path = f"/instructor/submissions/{submission.id}/regrade"
    assert client.post(path, headers=HTML, follow_redirects=False).status_code == 403
    assert _status(db, submission.id) == "graded"  # type: ignore[arg-type]
    r = client.post(
        path, data={"csrf_token": csrf_from(client, "/login")}, headers=HTML, follow_redirects=False
    )
    assert r.status_code == 303
    assert _status(db, submission.id) == "queued"  # type: ignore[arg-type]
    last = queue.get_events(db, submission_id=submission.id)[-1]  # type: ignore[arg-type]
    assert last.status == "queued" and instructor.email in last.detail
    # Already queued: refused with a reason, not a 500.
    r = client.post(
        path, data={"csrf_token": csrf_from(client, "/login")}, headers=HTML, follow_redirects=False
    )
    assert r.status_code == 409 and "already queued" in r.text


def test_regrade_all_requeues_finished_and_leaves_running_ones(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    done = [store_submission(db, make_user(Role.LEARNER), result=sample_result()) for _ in range(2)]
    running = store_submission(db, make_user(Role.LEARNER), status=SubmissionStatus.TRAINING)
    login(client, make_user(Role.INSTRUCTOR))
    r = client.post(
        f"/instructor/exercises/{SLUG}/regrade",
        data={"csrf_token": csrf_from(client, "/login")},
        headers=HTML,
    )
    assert r.status_code == 200
    assert "Queued 2 submissions for regrading" in r.text and "1 still waiting or running" in r.text
    assert [_status(db, s.id) for s in done] == ["queued", "queued"]  # type: ignore[arg-type]
    assert _status(db, running.id) == "training"  # type: ignore[arg-type]


def _result(score: float) -> ResultDocument:
    doc = sample_result()
    tests = [t.model_copy(update={"score": min(score, t.max_score)}) for t in doc.tests[:1]]
    return doc.model_copy(update={"tests": tests}).with_totals()


def test_grades_csv_best_or_latest_per_learner(client: TestClient, db: Session, make_user) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ada = make_user(Role.LEARNER, email="ada@example.org")
    bob = make_user(Role.LEARNER, email="bob@example.org")
    bob.display_name = '=HYPERLINK("http://evil")'
    db.add(bob)
    db.commit()
    best = store_submission(db, ada, result=_result(9), requested_at=t0)
    best.late = True  # sent after the due date: the gradebook says so
    db.add(best)
    db.commit()
    store_submission(db, ada, result=_result(4), requested_at=t0 + timedelta(hours=1))
    ada_latest = store_submission(
        db, ada, status=SubmissionStatus.FAILED, requested_at=t0 + timedelta(hours=2)
    )
    bob_only = store_submission(db, bob, status=SubmissionStatus.ERROR, requested_at=t0)
    login(client, make_user(Role.INSTRUCTOR))

    def rows(pick: str) -> list[dict[str, str]]:
        r = client.get(f"/instructor/exercises/{SLUG}/grades.csv?pick={pick}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert f"{SLUG}-grades-{pick}.csv" in r.headers["content-disposition"]
        return list(csv.DictReader(io.StringIO(r.text)))

    best_rows = rows("best")
    assert [(r["email"], r["submission_id"], r["status"], r["score"]) for r in best_rows] == [
        ("ada@example.org", str(best.id), "graded", "9.0"),
        ("bob@example.org", str(bob_only.id), "error", ""),
    ]
    assert best_rows[0]["contract"] == "9.0" and best_rows[0]["max_score"] == "10.0"
    assert best_rows[0]["percent"] == "90.0" and best_rows[0]["submissions"] == "3"
    assert best_rows[1]["name"].startswith("'=")  # a formula in a name is neutralised
    assert [r["late"] for r in best_rows] == ["yes", "no"]
    html = client.get(f"/instructor/exercises/{SLUG}/submissions").text
    assert html.count('<span class="badge-late">late</span>') == 1
    latest_rows = rows("latest")
    assert [(r["submission_id"], r["status"], r["score"]) for r in latest_rows] == [
        (str(ada_latest.id), "failed", ""),
        (str(bob_only.id), "error", ""),
    ]
    assert client.get(f"/instructor/exercises/{SLUG}/grades.csv?pick=worst").status_code == 400
    assert client.get("/instructor/exercises/nope/grades.csv").status_code == 404


def test_full_view_shows_the_submitted_files(client: TestClient, db: Session, make_user) -> None:  # type: ignore[no-untyped-def]
    from servelab.accounts import users as accounts

    learner = make_user(Role.LEARNER)
    token = accounts.create_api_token(db, user=learner)
    files = {"train.py": "print('fit')\n", "main.py": "app = 'marker-7731'\n"}
    r = client.post(
        "/api/v1/submissions",
        json={"exercise": SLUG, "files": files},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201
    login(client, make_user(Role.INSTRUCTOR))
    html = client.get(f"/instructor/submissions/{r.json()['id']}", headers=HTML).text
    assert "<code>main.py</code>" in html and "app = &#39;marker-7731&#39;" in html


@pytest.mark.postgres
def test_submit_show_regrade_and_export_on_postgresql(tmp_path: Path, postgres_db: str) -> None:
    """The same flow on PostgreSQL: counts, ordering, queue position and CSV are portable SQL."""
    from servelab.accounts import users as accounts
    from servelab.db.migrate import upgrade
    from servelab.web.app import create_app

    settings = course_settings(tmp_path, database_url=postgres_db)
    upgrade(settings)
    app = create_app(settings)
    files = {"train.py": "print('fit')\n", "main.py": "app = 1\n"}
    with TestClient(app) as client, Session(app.state.engine) as db:
        learner = accounts.create_user(db, email="pg@example.org", password="correct horse battery")
        auth = {"Authorization": f"Bearer {accounts.create_api_token(db, user=learner)}"}
        graded = store_submission(db, learner, result=sample_result())
        r = client.post(
            "/api/v1/submissions", json={"exercise": SLUG, "files": files}, headers=auth
        )
        assert r.status_code == 201, r.text
        queued_id = r.json()["id"]
        mine = client.get(f"/api/v1/submissions?exercise={SLUG}", headers=auth).json()
        assert [s["id"] for s in mine] == [queued_id, graded.id]
        instructor = accounts.create_user(
            db, email="teach@example.org", password="correct horse battery", role=Role.INSTRUCTOR
        )
        login(client, instructor)
        r = client.get("/instructor", headers=HTML)
        assert r.context["counts"][SLUG] == {"graded": 1, "queued": 1}  # type: ignore[attr-defined]
        rows = list(
            csv.DictReader(io.StringIO(client.get(f"/instructor/exercises/{SLUG}/grades.csv").text))
        )
        assert [(row["submission_id"], row["score"]) for row in rows] == [(str(graded.id), "25.0")]
        r = client.post(
            f"/instructor/submissions/{graded.id}/regrade",
            data={"csrf_token": csrf_from(client, "/login")},
            headers=HTML,
            follow_redirects=False,
        )
        assert r.status_code == 303 and _status(db, graded.id) == "queued"  # type: ignore[arg-type]
