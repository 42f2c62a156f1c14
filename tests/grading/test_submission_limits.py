"""The submission limits' own rules: the hourly window in UTC, and the unpacking slots."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models.grading import Submission, SubmissionStatus
from servelab.grading.submission_limits import IntakeBusy, intake_slot, limit_reached
from servelab.settings import Settings
from support import PASSWORD


@pytest.mark.postgres
def test_the_next_allowed_time_is_utc_whatever_the_database_time_zone(
    postgres_db: str, tmp_path: Path
) -> None:
    settings = Settings(environment="test", var_dir=tmp_path / "var", database_url=postgres_db)
    upgrade(settings)
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with Session(make_engine(settings)) as db:
        user = accounts.create_user(db, email="tz@example.org", password=PASSWORD)
        assert user.id is not None
        for minutes_ago in (45, 30, 70):
            at = now - timedelta(minutes=minutes_ago)
            db.add(
                Submission(
                    user_id=user.id,
                    exercise_slug="ex",
                    source_dir="/nonexistent",
                    status=SubmissionStatus.FAILED,
                    requested_at=at,
                    updated_at=at,
                )
            )
        db.commit()
        db.exec(text("SET TIME ZONE 'Asia/Kolkata'"))  # type: ignore[call-overload]
        reached = limit_reached(db, user=user, exercise_slug="ex", per_hour=2, now=now)
        assert reached is not None
        assert "allowed at 12:15 UTC (in 15 minutes)" in reached.message, reached.message
        assert reached.retry_after_seconds == 15 * 60
        assert limit_reached(db, user=user, exercise_slug="ex", per_hour=3, now=now) is None
        assert limit_reached(db, user=user, exercise_slug="other", per_hour=1, now=now) is None


def test_intake_slots_let_only_a_few_unpack_at_once() -> None:
    inside = peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with intake_slot(slots=2, wait_seconds=30):
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.05)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    print(f"\n8 uploads through 2 slots: at most {peak} unpacked at once")
    assert peak == 2 and inside == 0
    with intake_slot(slots=1, wait_seconds=1), pytest.raises(IntakeBusy):
        with intake_slot(slots=1, wait_seconds=0.05):
            pass
