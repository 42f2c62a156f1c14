"""The one clock of the tables and the code that compares with them."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC now: sqlmodel stores aware datetimes portably (timestamptz on PostgreSQL)."""
    return datetime.now(UTC)
