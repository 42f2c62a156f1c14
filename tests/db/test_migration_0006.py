"""Migration 0006 (the score before a regrade): submissions stored before it keep every value
and have no previous score; its downgrade gives the columns back and keeps the rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from servelab.db.migrate import downgrade, upgrade
from servelab.settings import Settings

BEFORE = "0005_dispatched_at"


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("submission")}
    finally:
        engine.dispose()


def test_rows_stored_before_0006_survive_it_both_ways(tmp_path: Path) -> None:
    # SQLite whatever database the session runs on: the raw SQL below is written for it.
    var = tmp_path / "var"
    settings = Settings(environment="test", var_dir=var, database_url=f"sqlite:///{var}/m.db")
    upgrade(settings, BEFORE)
    assert "previous_score" not in _columns(settings.database_url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO user (id, email, display_name, password_hash, role, created_at)"
                    " VALUES (1, 'ada@example.org', 'Ada', 'x', 'learner', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO submission (id, user_id, exercise_slug, status, source_dir,"
                    " score, max_score, attempts, requested_at, updated_at) VALUES"
                    " (7, 1, 'tiny', 'graded', '/x', 25.0, 50.0, 1, :now, :now)"
                ),
                {"now": now},
            )
        upgrade(settings)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT score, previous_score, regraded_at FROM submission WHERE id = 7")
            ).one()
        assert tuple(row) == (25.0, None, None)
        downgrade(settings, BEFORE)
        assert {"previous_score", "regraded_at"}.isdisjoint(_columns(settings.database_url))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT score FROM submission WHERE id = 7")).scalar() == 25.0
    finally:
        engine.dispose()
