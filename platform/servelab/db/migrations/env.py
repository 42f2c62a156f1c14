"""Alembic environment: runs migrations against the URL that servelab.db.migrate configured."""

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import servelab.db.models  # noqa: F401  (registers every table)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("servelab.db.migrate sets sqlalchemy.url; run `servelab db upgrade`")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
