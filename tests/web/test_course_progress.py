"""The course index's progress per lesson (routes/pages.py, servelab/progress.py): lessons
opened (recorded once), best quiz score, best exercise score as the learner may see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from grading_web_helpers import HTML, SLUG, bearer_headers, course_settings, store_submission
from sqlalchemy import event
from sqlmodel import Session, select

from servelab import progress
from servelab.db.models import Role, User
from servelab.db.models.grading import Submission
from servelab.db.models.progress import DueExtension, LessonVisit
from servelab.settings import Settings
from support import login

QUIZ_API = f"/api/v1/quizzes/{SLUG}/attempts"


@pytest.fixture
def settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return course_settings(tmp_path)


def _card(html: str) -> str:
    """The progress list of the tiny lesson on the index."""
    m = re.search(rf'<dl class="progress"[^>]*data-lesson="{SLUG}">(.*?)</dl>', html, re.S)
    assert m, "no progress list for the lesson"
    return re.sub(r"\s+", " ", m.group(1))


def _take_quiz(client: TestClient, headers: dict[str, str], answer: str) -> None:
    attempt = client.post(QUIZ_API, headers=headers)
    assert attempt.status_code in (200, 201), attempt.text
    r = client.post(
        f"{QUIZ_API}/{attempt.json()['id']}/submit",
        headers=headers,
        json={"answers": {"q1": answer}},
    )
    assert r.status_code == 200, r.text


def test_anonymous_visitors_see_the_index_without_progress(client: TestClient) -> None:
    html = client.get("/", headers=HTML).text
    assert "Tiny lesson" in html
    assert 'class="progress"' not in html and "Your progress" not in html
    assert "progress.css" not in html


def test_a_new_learner_sees_nothing_done_yet(client: TestClient, learner: User) -> None:
    login(client, learner)
    html = client.get("/", headers=HTML).text
    assert "0 of 1 lesson opened" in html
    card = _card(html)
    assert "Not opened yet" in card and "Not taken yet" in card
    assert "No graded submission yet" in card


def test_opening_a_lesson_is_recorded_once(client: TestClient, db: Session, learner: User) -> None:
    login(client, learner)
    assert client.get(f"/lessons/{SLUG}", headers=HTML).status_code == 200
    first = db.exec(select(LessonVisit)).one()
    assert (first.user_id, first.lesson_slug) == (learner.id, SLUG)
    opened_at = first.first_opened_at
    assert client.get(f"/lessons/{SLUG}", headers=HTML).status_code == 200
    db.expire_all()
    again = db.exec(select(LessonVisit)).all()
    assert len(again) == 1 and again[0].first_opened_at == opened_at
    html = client.get("/", headers=HTML).text
    assert "1 of 1 lesson opened" in html and "Opened" in _card(html)


def test_an_anonymous_reader_records_nothing(client: TestClient, db: Session) -> None:
    assert client.get(f"/lessons/{SLUG}", headers=HTML).status_code == 200
    assert db.exec(select(LessonVisit)).all() == []


def test_the_best_quiz_attempt_is_shown(client: TestClient, db: Session, learner: User) -> None:
    headers = bearer_headers(db, learner)
    _take_quiz(client, headers, "b")  # right: 1 of 1
    _take_quiz(client, headers, "a")  # wrong, later: the best stays
    login(client, learner)
    assert "Best 100.0% (1.0 / 1.0)" in _card(client.get("/", headers=HTML).text)


def test_the_best_exercise_score_links_its_submission(
    client: TestClient, db: Session, learner: User, make_user
) -> None:  # type: ignore[no-untyped-def]
    low = store_submission(db, learner)
    _scored(db, low, 20, 50)
    best = store_submission(db, learner)
    _scored(db, best, 45, 50)
    _scored(db, store_submission(db, make_user(Role.LEARNER)), 50, 50)  # someone else's
    login(client, learner)
    card = _card(client.get("/", headers=HTML).text)
    assert f'href="/submissions/{best.id}">45.0 / 50.0</a>' in card
    assert "50.0 / 50.0" not in card


def test_split_data_shows_the_feedback_score_until_the_learners_own_due_date(
    client: TestClient, db: Session, make_user, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Past the class's due date the grade shows; a learner whose extension runs on still
    sees only the feedback part's score (nothing of the final part early)."""
    on_time, extended = make_user(Role.LEARNER), make_user(Role.LEARNER)
    for learner in (on_time, extended):
        submission = store_submission(db, learner)
        _scored(db, submission, 40, 50, feedback=(12, 20))
    db.add(
        DueExtension(
            exercise_slug=SLUG,
            user_id=extended.id,  # type: ignore[arg-type]
            due_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
    )
    db.commit()
    exercises = {SLUG: _past_due_exercise(client)}
    shown = {
        learner.email: progress.course_progress(
            db, user_id=learner.id or 0, lesson_slugs=[SLUG], exercises=exercises
        )
        .of(SLUG)
        .best_exercise
        for learner in (on_time, extended)
    }
    assert shown[on_time.email] == progress.Score(40, 50)
    assert shown[extended.email] == progress.Score(12, 20)


def test_progress_costs_one_query_per_kind_however_many_lessons(
    client: TestClient, db: Session, learner: User
) -> None:
    for slug in ("a", "b", "c", "d", SLUG):
        _scored(db, store_submission(db, learner, slug=slug), 1, 2)
        db.add(LessonVisit(user_id=learner.id or 0, lesson_slug=slug))
    db.commit()
    exercises = {slug: _past_due_exercise(client) for slug in ("a", "b", "c", "d", SLUG)}
    user_id = learner.id or 0  # read before counting: the test's session reloads it

    def statements(slugs: list[str]) -> int:
        with _statements(db) as (fresh, seen):
            mine = progress.course_progress(
                fresh, user_id=user_id, lesson_slugs=slugs, exercises=exercises
            )
        assert all(mine.of(slug).opened for slug in slugs)
        return len(seen)

    one, five = statements([SLUG]), statements(["a", "b", "c", "d", SLUG])
    print(f"progress statements: {one} for 1 lesson, {five} for 5")
    assert one == five <= 4  # visits, quiz attempts, submissions, extensions


@contextmanager
def _statements(db: Session) -> Iterator[tuple[Session, list[str]]]:
    """A fresh session on the test's database, and every SQL statement sent while it is open."""
    seen: list[str] = []
    engine = db.get_bind()

    def record(_conn, _cursor, statement: str, *_rest) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as fresh:
            yield fresh, seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _past_due_exercise(client: TestClient):  # type: ignore[no-untyped-def]
    exercise = client.app.state.course.exercises[SLUG]  # type: ignore[attr-defined]
    return exercise.model_copy(update={"due": datetime(2020, 1, 1, tzinfo=UTC)})


def _scored(
    db: Session,
    submission: Submission,
    score: float,
    max_score: float,
    *,
    feedback: tuple[float, float] | None = None,
) -> None:
    submission.score, submission.max_score = score, max_score
    if feedback is not None:
        submission.feedback_score, submission.feedback_max_score = feedback
    db.add(submission)
    db.commit()


def test_a_recorded_visit_costs_one_read_and_no_write(db: Session, learner: User) -> None:
    user_id = learner.id or 0
    progress.record_visit(db, user_id=user_id, lesson_slug=SLUG)
    with _statements(db) as (fresh, seen):
        progress.record_visit(fresh, user_id=user_id, lesson_slug=SLUG)
    assert len(seen) == 1 and seen[0].lstrip().upper().startswith("SELECT"), seen
