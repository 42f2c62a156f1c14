"""Dead letters (grading/dead_letter.py): platform failures on every attempt end in `error`;
instructors list them with the reason and queue them again. Real HTTP through the app."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from servelab.db.models import Role, User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import queue
from support import csrf_from, login

HTML = {"accept": "text/html"}


def _dead_letter(db: Session, learner: User, reason: str) -> int:
    assert learner.id is not None
    sid = queue.enqueue_submission(
        db, user_id=learner.id, exercise_slug="tiny-regression", source_dir="/s/1"
    ).id
    assert sid is not None
    status = None
    for _ in range(2):
        claim = queue.claim_next(
            db, worker_id="w", lease_seconds=30, deadline_seconds=lambda _slug: 300
        )
        assert claim is not None
        status = queue.fail_over(db, claim, detail=reason, max_attempts=2)
    assert status == SubmissionStatus.ERROR
    return sid


def test_instructors_see_dead_letters_with_the_reason_and_retry_them(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    docker_down = _dead_letter(db, learner, "DockerException: Error while fetching server API")
    killed = _dead_letter(db, learner, "watchdog: its worker stopped responding")
    login(client, learner)
    assert client.get("/instructor/dead-letters", headers=HTML).status_code == 403
    token = csrf_from(client, "/login")
    r = client.post("/instructor/dead-letters/retry", data={"csrf_token": token}, headers=HTML)
    assert r.status_code == 403

    login(client, make_user(Role.INSTRUCTOR))
    page = client.get("/instructor/dead-letters", headers=HTML)
    assert page.status_code == 200
    assert "Error while fetching server API" in page.text
    assert "its worker stopped responding" in page.text
    assert f'/instructor/submissions/{docker_down}"' in page.text
    assert learner.email in page.text
    assert 'href="/instructor/dead-letters"' in client.get("/instructor", headers=HTML).text

    assert client.post("/instructor/dead-letters/retry", headers=HTML).status_code == 403
    r = client.post(
        "/instructor/dead-letters/retry",
        data={"csrf_token": csrf_from(client, "/login")},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/instructor/dead-letters?retried=2"
    db.expire_all()
    for sid in (docker_down, killed):
        row = db.get(Submission, sid)
        assert row is not None and (row.status, row.attempts) == ("queued", 0)
    page = client.get("/instructor/dead-letters?retried=2", headers=HTML)
    assert "Queued 2 submissions again" in page.text and "No platform errors" in page.text
