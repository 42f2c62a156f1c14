"""What people see of submissions (grading/views.py): who may see one, queue place, scores, logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from grading_helpers import course_settings, make_learner, tiny_exercise
from queue_helpers import claim_one, enqueue_n, fetch_row
from sqlalchemy.engine import Engine
from sqlmodel import Session

from servelab.db.models import Role, User
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading import views


def _instructor(session: Session) -> User:
    user = make_learner(session, email="teacher@example.org")
    user.role = Role.INSTRUCTOR
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def test_a_submission_is_visible_to_its_owner_and_instructors_only(
    engine: Engine, user_id: int
) -> None:
    [sid] = enqueue_n(engine, user_id)
    with Session(engine) as session:
        owner = session.get(User, user_id)
        assert owner is not None
        other = make_learner(session, email="other@example.org")
        teacher = _instructor(session)
        assert views.visible_submission(session, user=owner, submission_id=sid) is not None
        assert views.visible_submission(session, user=other, submission_id=sid) is None
        assert views.visible_submission(session, user=teacher, submission_id=sid) is not None
        assert views.visible_submission(session, user=teacher, submission_id=sid + 99) is None


def test_queue_position_counts_the_submissions_ahead(engine: Engine, user_id: int) -> None:
    first, second, third = enqueue_n(engine, user_id, 3)
    with Session(engine) as session:
        positions = [
            views.queue_position(session, submission=fetch_row(engine, sid))
            for sid in (first, second, third)
        ]
    assert positions == [0, 1, 2]
    assert claim_one(engine) is not None  # the first one leaves the queue
    with Session(engine) as session:
        assert views.queue_position(session, submission=fetch_row(engine, first)) is None
        assert views.queue_position(session, submission=fetch_row(engine, third)) == 1


def _finished(status: SubmissionStatus, **fields: object) -> Submission:
    values: dict[str, object] = {
        "user_id": 1,
        "exercise_slug": "tiny-regression",
        "source_dir": "/nonexistent",
        "log_excerpt": "Traceback: the learner's own output",
        **fields,
    }
    return Submission(status=status, **values)  # type: ignore[arg-type]


def test_the_log_is_the_learners_only_when_their_code_failed() -> None:
    assert "Traceback" in views.learner_log_excerpt(_finished(SubmissionStatus.FAILED))
    for status in (SubmissionStatus.GRADED, SubmissionStatus.ERROR):
        assert views.learner_log_excerpt(_finished(status)) == ""


def test_learners_see_the_feedback_score_until_the_due_date() -> None:
    exercise = tiny_exercise().exercise
    due = datetime(2026, 6, 1, tzinfo=UTC)
    exercise = exercise.model_copy(update={"due": due})
    split = _finished(
        SubmissionStatus.GRADED, score=7, max_score=8, feedback_score=2, feedback_max_score=3
    )
    before, after = due - timedelta(days=1), due + timedelta(days=1)
    assert views.learner_score(split, exercise, now=before) == (2, 3)
    assert views.learner_score(split, exercise, now=after) == (7, 8)
    queued = _finished(SubmissionStatus.QUEUED, score=7, max_score=8)
    assert views.learner_score(queued, exercise, now=after) == (None, None)


def test_submitted_files_are_read_only_inside_the_submissions_folder(tmp_path: Path) -> None:
    settings = course_settings(tmp_path / "var")
    inside = settings.submissions_dir / "1-abc"
    inside.mkdir(parents=True)
    (inside / "train.py").write_text("x = 1\n")
    (inside / "blob.bin").write_bytes(b"\xff\xfe")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.py").write_text("hidden = True\n")
    shown = views.submitted_files(
        _finished(SubmissionStatus.GRADED, source_dir=str(inside)), settings=settings
    )
    assert [(f.name, f.text) for f in shown] == [("blob.bin", None), ("train.py", "x = 1\n")]
    elsewhere = _finished(SubmissionStatus.GRADED, source_dir=str(outside))
    assert views.submitted_files(elsewhere, settings=settings) == []


def test_previous_graded_is_the_owners_last_graded_one_of_that_exercise(
    engine: Engine, user_id: int
) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def row(
        session: Session, owner: int, status: SubmissionStatus, when: datetime, slug: str = "tiny"
    ) -> Submission:
        submission = Submission(
            user_id=owner, exercise_slug=slug, status=status, source_dir="/x", requested_at=when
        )
        session.add(submission)
        session.commit()
        session.refresh(submission)
        return submission

    with Session(engine) as session:
        other = make_learner(session, email="other@example.org").id
        assert other is not None
        first = row(session, user_id, SubmissionStatus.GRADED, at)
        same_instant = row(session, user_id, SubmissionStatus.GRADED, at)
        row(session, user_id, SubmissionStatus.FAILED, at + timedelta(minutes=1))
        row(session, other, SubmissionStatus.GRADED, at + timedelta(minutes=2))
        row(session, user_id, SubmissionStatus.GRADED, at + timedelta(minutes=2), slug="another")
        latest = row(session, user_id, SubmissionStatus.GRADED, at + timedelta(minutes=3))
        previous = views.previous_graded(session, submission=latest)
        assert previous is not None and previous.id == same_instant.id
        # At the same instant, the lower id came first.
        earlier = views.previous_graded(session, submission=same_instant)
        assert earlier is not None and earlier.id == first.id
        assert views.previous_graded(session, submission=first) is None
