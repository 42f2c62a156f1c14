"""Migrations: from an empty database to head and back to base, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import servelab.db.models  # noqa: F401  (registers every table)
from servelab.db.migrate import alembic_config, current_revision, downgrade, upgrade
from servelab.settings import Settings


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _round_trip(settings: Settings) -> None:
    assert _tables(settings.database_url) == set()
    upgrade(settings)
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    assert current_revision(settings) == head
    assert {"user", "web_session", "api_token"} <= _tables(settings.database_url)
    assert set(SQLModel.metadata.tables) <= _tables(settings.database_url)

    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        engine.dispose()
    structural = [
        d
        for d in drift
        if isinstance(d, tuple)
        and d[0] in ("add_table", "remove_table", "add_column", "remove_column")
    ]
    assert structural == [], f"models and migrations disagree: {structural}"

    downgrade(settings, "base")
    assert current_revision(settings) is None
    assert _tables(settings.database_url) == set()
    upgrade(settings)  # and up again: downgrades must leave nothing behind that blocks it
    assert current_revision(settings) == head


def test_sqlite_empty_to_head_and_back(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    _round_trip(Settings(environment="test", var_dir=tmp_path / "var"))


@pytest.mark.postgres
def test_postgresql_empty_to_head_and_back(tmp_path: Path, postgres_db: str) -> None:
    _round_trip(Settings(environment="test", var_dir=tmp_path / "var", database_url=postgres_db))


@pytest.mark.postgres
def test_postgresql_accounts_work_by_changing_the_url(tmp_path: Path, postgres_db: str) -> None:
    from sqlmodel import Session

    from servelab.accounts import users as accounts
    from servelab.db.engine import make_engine

    settings = Settings(environment="test", var_dir=tmp_path / "var", database_url=postgres_db)
    upgrade(settings)
    engine = make_engine(settings)
    try:
        with Session(engine) as db:
            user = accounts.create_user(db, email="Pg@Example.org", password="long enough pw")
            token, _ = accounts.start_web_session(db, user=user, days=1)
            resolved = accounts.resolve_web_session(db, token=token)
            assert resolved is not None and resolved[0].email == "pg@example.org"
            api = accounts.create_api_token(db, user=user)
            assert accounts.resolve_api_token(db, token=api) is not None
    finally:
        engine.dispose()
