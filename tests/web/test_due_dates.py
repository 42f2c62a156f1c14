"""Due dates (issue 11): the exercise page shows the learner's due date and the late policy;
work sent after it is marked late or, when the policy says so, refused; an instructor grants
one learner an extension, which moves that learner's due date everywhere."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import (
    HTML,
    SLUG,
    all_submissions,
    bearer_headers,
    course_settings,
    sample_result,
    starter_zip,
    store_submission,
    upload_zip,
)
from sqlmodel import Session, select

from servelab.db.models import Role, User
from servelab.db.models.progress import DueExtension
from servelab.settings import Settings
from support import csrf_from, login

PAST = "2020-01-01T12:00:00Z"
FUTURE = "2099-01-01T12:00:00Z"
EXTENSIONS = f"/instructor/exercises/{SLUG}/extensions"
NOTE = "Late work loses 10% per day; the instructor applies it."


def _course(tmp_path: Path, *, due: str | None, accept: bool = True) -> Settings:
    settings = course_settings(tmp_path, due=due)
    if due is not None:
        toml = settings.exercises_dir / SLUG / "exercise.toml"
        policy = f'\n[late_policy]\naccept = {"true" if accept else "false"}\nnote = "{NOTE}"\n'
        toml.write_text(toml.read_text(encoding="utf-8") + policy, encoding="utf-8")
    return settings


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The tiny course with the due date and late policy the test asks for (indirect param)."""
    due, accept = getattr(request, "param", (PAST, True))
    return _course(tmp_path, due=due, accept=accept)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _extend(db: Session, learner: User, due: datetime) -> None:
    db.add(DueExtension(exercise_slug=SLUG, user_id=learner.id or 0, due_at=due))
    db.commit()


# --- the exercise page -------------------------------------------------------------------


def test_the_page_shows_the_due_date_and_late_policy(client: TestClient) -> None:
    text = _text(client.get(f"/exercises/{SLUG}", headers=HTML).text)
    assert "Due 2020-01-01 12:00 UTC" in text and "Past due" in text
    assert "Late work: accepted after the due date, graded as usual and marked late." in text
    assert NOTE in text


@pytest.mark.parametrize("settings", [(PAST, False)], indirect=True)
def test_a_policy_without_late_work_says_so(client: TestClient, learner: User) -> None:
    login(client, learner)
    text = _text(client.get(f"/exercises/{SLUG}", headers=HTML).text)
    assert "not accepted: submissions after the due date are refused" in text
    assert "new submissions are refused" in text


@pytest.mark.parametrize("settings", [(None, True)], indirect=True)
def test_an_exercise_without_a_due_date_shows_none(client: TestClient) -> None:
    html = client.get(f"/exercises/{SLUG}", headers=HTML).text
    assert 'id="due-date"' not in html and "Late work" not in html


def test_a_learner_with_an_extension_sees_their_own_date(
    client: TestClient, db: Session, learner: User
) -> None:
    _extend(db, learner, datetime(2099, 3, 4, 5, 6, tzinfo=UTC))
    login(client, learner)
    text = _text(client.get(f"/exercises/{SLUG}", headers=HTML).text)
    assert "Due 2099-03-04 05:06 UTC (your extension; the class's due date is 2020-01-01" in text
    assert "Past due" not in text


# --- late marks and refusals at intake ---------------------------------------------------


def test_work_after_the_due_date_is_marked_late_everywhere(
    client: TestClient, db: Session, learner: User
) -> None:
    login(client, learner)
    r = upload_zip(client, starter_zip())
    assert r.status_code == 303, r.text
    (submission,) = all_submissions(db)
    assert submission.late is True
    detail = client.get(r.headers["location"], headers=HTML).text
    assert 'id="late-badge"' in detail
    assert '<span class="badge-late">late</span>' in client.get("/submissions", headers=HTML).text
    api = client.get(f"/api/v1/submissions/{submission.id}", headers=bearer_headers(db, learner))
    assert api.json()["late"] is True
    listed = client.get("/api/v1/submissions", headers=bearer_headers(db, learner)).json()
    assert [s["late"] for s in listed] == [True]


@pytest.mark.parametrize("settings", [(FUTURE, True)], indirect=True)
def test_work_before_the_due_date_is_not_late(
    client: TestClient, db: Session, learner: User
) -> None:
    login(client, learner)
    r = upload_zip(client, starter_zip())
    assert r.status_code == 303
    (submission,) = all_submissions(db)
    assert submission.late is False
    assert "badge-late" not in client.get(r.headers["location"], headers=HTML).text


def test_an_extension_keeps_work_on_time(client: TestClient, db: Session, learner: User) -> None:
    _extend(db, learner, datetime(2099, 1, 1, tzinfo=UTC))
    login(client, learner)
    assert upload_zip(client, starter_zip()).status_code == 303
    assert [s.late for s in all_submissions(db)] == [False]


@pytest.mark.parametrize("settings", [(PAST, False)], indirect=True)
def test_a_policy_without_late_work_refuses_with_the_due_date(
    client: TestClient, db: Session, learner: User, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, learner)
    r = upload_zip(client, starter_zip())
    assert r.status_code == 403
    text = _text(r.text)
    assert "Your submission was not accepted." in text
    assert "The due date of this exercise has passed (2020-01-01 12:00 UTC)" in text
    api = client.post(
        "/api/v1/submissions",
        headers=bearer_headers(db, learner),
        json={"exercise": SLUG, "files": {"train.py": "x = 1\n", "main.py": "app = 1\n"}},
    )
    assert api.status_code == 403 and "2020-01-01 12:00 UTC" in api.json()["detail"]
    assert all_submissions(db) == []
    # The same policy, but this learner's extension runs on: accepted, on time.
    extended = make_user(Role.LEARNER)
    _extend(db, extended, datetime(2099, 1, 1, tzinfo=UTC))
    login(client, extended)
    assert upload_zip(client, starter_zip()).status_code == 303
    assert [(s.user_id, s.late) for s in all_submissions(db)] == [(extended.id, False)]
    # An instructor trying their own exercise is marked late but not refused.
    instructor = make_user(Role.INSTRUCTOR)
    login(client, instructor)
    assert upload_zip(client, starter_zip()).status_code == 303
    assert [s.late for s in all_submissions(db) if s.user_id == instructor.id] == [True]


# --- the after_due reveal follows the learner's own date -------------------------------------


def test_after_due_checks_wait_for_the_learners_extension(
    client: TestClient, db: Session, make_user
) -> None:  # type: ignore[no-untyped-def]
    on_time, extended = make_user(Role.LEARNER), make_user(Role.LEARNER)
    _extend(db, extended, datetime(2099, 1, 1, tzinfo=UTC))
    pages = {}
    for learner in (on_time, extended):
        submission = store_submission(db, learner, result=sample_result())
        login(client, learner)
        pages[learner.email] = client.get(f"/submissions/{submission.id}", headers=HTML).text
        client.cookies.clear()
    assert "after due check" in pages[on_time.email]
    assert "after due check" not in pages[extended.email]


# --- the instructor's extensions page -----------------------------------------------------


def test_learners_get_403_on_every_extensions_route(
    client: TestClient, db: Session, learner: User, make_user
) -> None:  # type: ignore[no-untyped-def]
    _extend(db, make_user(Role.LEARNER), datetime(2099, 1, 1, tzinfo=UTC))
    extension_id = db.exec(select(DueExtension)).one().id
    login(client, learner)
    token = csrf_from(client, f"/exercises/{SLUG}")
    assert client.get(EXTENSIONS, headers=HTML).status_code == 403
    for path, data in (
        (EXTENSIONS, {"email": learner.email, "due_at": "2099-01-01T00:00"}),
        (f"{EXTENSIONS}/{extension_id}/revoke", {}),
    ):
        r = client.post(path, data={**data, "csrf_token": token}, headers=HTML)
        assert r.status_code == 403
    assert len(db.exec(select(DueExtension)).all()) == 1


def test_an_instructor_grants_changes_and_revokes_an_extension(
    client: TestClient, db: Session, learner: User, make_user
) -> None:  # type: ignore[no-untyped-def]
    instructor = make_user(Role.INSTRUCTOR)
    login(client, instructor)
    assert "No extensions granted yet." in client.get(EXTENSIONS, headers=HTML).text
    token = csrf_from(client, EXTENSIONS)
    assert (
        client.post(EXTENSIONS, data={"email": learner.email, "due_at": "2099-01-01T00:00"})
    ).status_code == 403  # no CSRF token
    for due in ("2099-01-01T00:00", "2099-02-03T04:05"):  # granting again replaces the date
        r = client.post(
            EXTENSIONS,
            data={"email": learner.email.upper(), "due_at": due, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].endswith("?done=granted")
    extension = db.exec(select(DueExtension)).one()
    assert (extension.user_id, extension.granted_by) == (learner.id, instructor.id)
    assert extension.due_at.replace(tzinfo=UTC) == datetime(2099, 2, 3, 4, 5, tzinfo=UTC)
    page = _text(client.get(f"{EXTENSIONS}?done=granted", headers=HTML).text)
    assert "Extension saved." in page and f"{learner.email}" in page and "2099-02-03 04:05" in page
    r = client.post(
        f"{EXTENSIONS}/{extension.id}/revoke", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    db.expire_all()
    assert db.exec(select(DueExtension)).all() == []


@pytest.mark.parametrize(
    ("email", "due", "code", "message"),
    [
        ("", "2099-01-01T00:00", 400, "Enter the learner's email address"),
        ("nobody@example.org", "2099-01-01T00:00", 404, "No account uses the email"),
        (None, "next tuesday", 400, "Enter the new due date as a date and time (UTC)"),
        (None, "2019-12-31T00:00", 400, "must end after the exercise's due date (2020-01-01"),
        ("x" * 300 + "@example.org", "2099-01-01T00:00", 400, "Enter the learner's email"),
    ],
)
def test_a_refused_extension_says_why(
    client: TestClient,
    db: Session,
    learner: User,
    make_user,  # type: ignore[no-untyped-def]
    email: str | None,
    due: str,
    code: int,
    message: str,
) -> None:
    login(client, make_user(Role.INSTRUCTOR))
    token = csrf_from(client, EXTENSIONS)
    r = client.post(
        EXTENSIONS,
        data={
            "email": learner.email if email is None else email,
            "due_at": due,
            "csrf_token": token,
        },
        headers=HTML,
    )
    assert r.status_code == code
    assert message in _text(r.text).replace("&#39;", "'")
    assert db.exec(select(DueExtension)).all() == []


@pytest.mark.parametrize("settings", [(None, True)], indirect=True)
def test_an_exercise_without_a_due_date_takes_no_extension(
    client: TestClient, db: Session, learner: User, make_user
) -> None:  # type: ignore[no-untyped-def]
    login(client, make_user(Role.INSTRUCTOR))
    page = client.get(EXTENSIONS, headers=HTML).text
    assert "has no due date, so there is nothing to extend" in page and 'id="grant"' not in page
    token = csrf_from(client, f"/exercises/{SLUG}")
    r = client.post(
        EXTENSIONS,
        data={"email": learner.email, "due_at": "2099-01-01T00:00", "csrf_token": token},
        headers=HTML,
    )
    assert r.status_code == 400 and db.exec(select(DueExtension)).all() == []


def test_ids_are_checked_against_the_exercise(
    client: TestClient, db: Session, learner: User, make_user
) -> None:  # type: ignore[no-untyped-def]
    other = DueExtension(
        exercise_slug="another-exercise",
        user_id=learner.id or 0,
        due_at=datetime(2099, 1, 1, tzinfo=UTC),
    )
    db.add(other)
    db.commit()
    login(client, make_user(Role.INSTRUCTOR))
    token = csrf_from(client, EXTENSIONS)
    for path in (f"{EXTENSIONS}/{other.id}/revoke", f"{EXTENSIONS}/999999/revoke"):
        assert client.post(path, data={"csrf_token": token}, headers=HTML).status_code == 404
    assert client.post(f"{EXTENSIONS}/0/revoke", data={"csrf_token": token}).status_code == 404
    assert client.get("/instructor/exercises/nope/extensions", headers=HTML).status_code == 404
    assert len(db.exec(select(DueExtension)).all()) == 1
