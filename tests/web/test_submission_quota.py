"""How much one learner may submit: the hourly limit per exercise, the atomic active limit,
and bounded intake work, through real HTTP (TestClient, and uvicorn in a child process)."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import HTML, SLUG, course_settings, starter_zip, store_submission
from sqlmodel import Session, select

from live_server import live_server
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models import Role, User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading.submission_limits import MAX_ACTIVE_SUBMISSIONS
from servelab.settings import Settings
from support import PASSWORD, csrf_from, login


def _set_per_hour(settings: Settings, per_hour: int) -> None:
    toml = settings.exercises_dir / SLUG / "exercise.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(
        text.replace("[limits]\n", f"[limits]\nsubmissions_per_hour = {per_hour}\n"),
        encoding="utf-8",
    )


@pytest.fixture
def settings(tiny_settings: Settings) -> Settings:
    _set_per_hour(tiny_settings, 2)
    return tiny_settings


def _upload(client: TestClient | httpx.Client, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        f"/exercises/{SLUG}/submissions",
        data={"source": "zip", "csrf_token": csrf_from(client, "/login")},  # type: ignore[arg-type]
        files={"archive": ("submission.zip", data, "application/zip")},
        headers=HTML,
        follow_redirects=False,
    )


def _api_upload(client: TestClient | httpx.Client, token: str, data: bytes) -> httpx.Response:
    return client.post(
        "/api/v1/submissions",
        data={"exercise": SLUG},
        files={"archive": ("s.zip", data, "application/zip")},
        headers={"Authorization": f"Bearer {token}"},
    )


def _finished(db: Session, user: User, **kwargs: object) -> Submission:
    return store_submission(db, user, status=SubmissionStatus.FAILED, **kwargs)  # type: ignore[arg-type]


def _count(db: Session, user: User) -> int:
    db.expire_all()
    return len(db.exec(select(Submission).where(Submission.user_id == user.id)).all())


# --- the hourly limit ---------------------------------------------------------------------------


def test_the_exercise_page_states_the_hourly_limit(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.LEARNER))
    html = client.get(f"/exercises/{SLUG}").text
    assert re.search(r"Submissions to this exercise per hour</th><td>2<", html)
    assert "You may submit to this exercise 2 times per hour" in html


def test_over_the_hourly_limit_says_when_the_next_submission_is_allowed(
    client: TestClient, db: Session, make_user, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    now = datetime.now(UTC)
    first = _finished(db, learner, requested_at=now - timedelta(minutes=50))
    _finished(db, learner, requested_at=now - timedelta(minutes=20))
    _finished(db, learner, requested_at=now - timedelta(minutes=61))  # out of the hour
    _finished(db, learner, slug="other-exercise")  # another exercise's hour
    login(client, learner)

    r = _upload(client, starter_zip())
    assert r.status_code == 429
    allowed_at = (first.requested_at.replace(tzinfo=UTC) + timedelta(hours=1)).strftime("%H:%M")
    assert "Your submission was not accepted" in r.text
    assert "submitted to this exercise 2 times in the last hour; it allows 2 per hour" in r.text
    assert f"next submission is allowed at {allowed_at} UTC (in 10 minutes)" in r.text
    assert 540 <= int(r.headers["retry-after"]) <= 600
    assert "per hour</th><td>2<" in r.text  # the page still states the limit

    token = accounts.create_api_token(db, user=learner)
    r = _api_upload(client, token, starter_zip())
    assert r.status_code == 429 and "(in 10 minutes)" in r.json()["detail"]
    assert 540 <= int(r.headers["retry-after"]) <= 600
    r = client.post(
        "/api/v1/submissions",
        json={"exercise": SLUG, "files": {"train.py": "x = 1\n", "main.py": "app = 1\n"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 429 and "retry-after" in r.headers
    print(f"\nhourly refusal: {r.json()['detail']}")
    assert _count(db, learner) == 4
    assert not settings.submissions_dir.exists()  # nothing was unpacked for a refusal


def test_regrades_do_not_count_and_the_hour_slides(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    learner = make_user(Role.LEARNER)
    now = datetime.now(UTC)
    old = _finished(db, learner, requested_at=now - timedelta(minutes=61))
    _finished(db, learner, requested_at=now - timedelta(minutes=5))
    instructor = make_user(Role.INSTRUCTOR)
    login(client, instructor)
    r = client.post(
        f"/instructor/submissions/{old.id}/regrade",
        data={"csrf_token": csrf_from(client, "/login")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.refresh(old)
    assert old.status == SubmissionStatus.QUEUED  # regraded, yet still outside the hour

    client.post("/logout", data={"csrf_token": csrf_from(client, "/")})
    login(client, learner)
    assert _upload(client, starter_zip()).status_code == 303  # 2nd in the hour: allowed
    r = _upload(client, starter_zip())
    assert r.status_code == 429 and "2 times in the last hour" in r.text


def test_instructors_trying_their_exercise_are_not_held_to_the_hourly_limit(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    instructor = make_user(Role.INSTRUCTOR)
    login(client, instructor)
    for _ in range(MAX_ACTIVE_SUBMISSIONS):
        assert _upload(client, starter_zip()).status_code == 303
    r = _upload(client, starter_zip())
    assert r.status_code == 429 and "waiting or being graded" in r.text  # the active limit holds
    assert int(r.headers["retry-after"]) > 0


# --- the active limit under concurrent posts ---------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    status: int
    detail: str
    retry_after: str | None


def _concurrent_posts(base_url: str, token: str, count: int) -> list[_Answer]:
    """`count` uploads by one learner, released at the same moment, each on its own connection."""
    barrier = threading.Barrier(count)
    answers: list[_Answer] = []
    data = starter_zip()

    def post() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            barrier.wait(timeout=30)
            r = _api_upload(client, token, data)
            detail = r.json().get("detail", "")
            answers.append(_Answer(r.status_code, detail, r.headers.get("retry-after")))

    threads = [threading.Thread(target=post) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert len(answers) == count
    return answers


def _learner_with_token(settings: Settings) -> tuple[int, str]:
    with Session(make_engine(settings)) as db:
        learner = accounts.create_user(
            db, email="racer@example.org", password=PASSWORD, role=Role.LEARNER
        )
        assert learner.id is not None
        return learner.id, accounts.create_api_token(db, user=learner)


def _assert_three_of_ten(settings: Settings, backend: str) -> None:
    _set_per_hour(settings, 50)  # the active limit is the one under test
    upgrade(settings)
    learner_id, token = _learner_with_token(settings)
    with live_server(settings) as server:
        answers = _concurrent_posts(server.base_url, token, 10)
    codes = Counter(a.status for a in answers)
    print(f"\n{backend}: 10 concurrent posts -> {dict(codes)}")
    assert codes == Counter({201: MAX_ACTIVE_SUBMISSIONS, 429: 10 - MAX_ACTIVE_SUBMISSIONS})
    for refused in (a for a in answers if a.status == 429):
        assert "waiting or being graded" in refused.detail and refused.retry_after
    with Session(make_engine(settings)) as db:
        rows = db.exec(select(Submission).where(Submission.user_id == learner_id)).all()
    assert len(rows) == MAX_ACTIVE_SUBMISSIONS
    folders = sorted(p.name for p in settings.submissions_dir.iterdir())
    assert folders == sorted(Path(row.source_dir).name for row in rows)  # refused ones removed


@pytest.mark.slow
def test_ten_concurrent_posts_accept_exactly_three_on_sqlite(tmp_path: Path) -> None:
    _assert_three_of_ten(course_settings(tmp_path), "SQLite")


@pytest.mark.slow
@pytest.mark.postgres
def test_ten_concurrent_posts_accept_exactly_three_on_postgresql(
    tmp_path: Path, postgres_db: str
) -> None:
    _assert_three_of_ten(course_settings(tmp_path, database_url=postgres_db), "PostgreSQL")


@pytest.mark.slow
@pytest.mark.postgres
def test_the_hourly_limit_holds_under_concurrent_posts_on_postgresql(
    tmp_path: Path, postgres_db: str
) -> None:
    settings = course_settings(tmp_path, database_url=postgres_db)
    _set_per_hour(settings, 2)
    upgrade(settings)
    _, token = _learner_with_token(settings)
    with live_server(settings) as server:
        answers = _concurrent_posts(server.base_url, token, 6)
    codes = Counter(a.status for a in answers)
    print(f"\nPostgreSQL, 2 per hour: 6 concurrent posts -> {dict(codes)}")
    assert codes == Counter({201: 2, 429: 4})
    assert all("2 per hour" in a.detail for a in answers if a.status == 429)


# --- bounded intake work -------------------------------------------------------------------------


def test_a_busy_intake_refuses_with_503_and_retry_after(tmp_path: Path) -> None:
    from servelab.grading.submission_limits import intake_slot
    from servelab.web.app import create_app

    settings = course_settings(tmp_path, intake_concurrency=1, intake_wait_seconds=0.2)
    upgrade(settings)
    app = create_app(settings)
    with Session(app.state.engine) as session:
        learner = accounts.create_user(
            session, email="busy@example.org", password=PASSWORD, role=Role.LEARNER
        )
        token = accounts.create_api_token(session, user=learner)
    # Another upload holds the only slot for longer than a submission may wait.
    with TestClient(app) as client, intake_slot(slots=1, wait_seconds=1):
        started = time.monotonic()
        r = _api_upload(client, token, starter_zip())
        print(f"\nbusy intake answered in {time.monotonic() - started:.2f} s")
    assert r.status_code == 503 and "busy checking other uploads" in r.json()["detail"]
    assert r.headers["retry-after"] == "60"
    assert list(settings.submissions_dir.iterdir()) == []  # its folder was removed
