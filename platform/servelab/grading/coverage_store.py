"""The last coverage matrix of each exercise, kept for the instructor pages.

`servelab exercise selftest SLUG --matrix` writes var/selftest/SLUG.json (atomically: a reader
sees the old matrix or the new one, never half of one); the coverage page reads it back
bounded in size and validated, so a damaged file is a message, not a 500.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from servelab.content.lesson import SLUG_PATTERN
from servelab.grading.coverage import CoverageMatrix
from servelab.settings import Settings

MAX_STORED_BYTES = 2_000_000  # 2000 checks x 200 mutants is far larger; real ones are ~10 kB


class CoverageStoreError(Exception):
    """The stored matrix cannot be read (message says what happened and what to do)."""


class StoredMatrix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    matrix: CoverageMatrix
    recorded_at: AwareDatetime
    selftest_ok: bool  # False: the self-test had surprises when this matrix was taken


def matrix_path(settings: Settings, slug: str) -> Path:
    # The slug names a file: only a valid exercise slug gets that far.
    if not re.fullmatch(SLUG_PATTERN, slug) or len(slug) > 80:
        raise CoverageStoreError(f"{slug!r} is not an exercise slug")
    return settings.var_dir / "selftest" / f"{slug}.json"


def store_matrix(settings: Settings, matrix: CoverageMatrix, *, selftest_ok: bool) -> Path:
    stored = StoredMatrix(matrix=matrix, recorded_at=datetime.now(UTC), selftest_ok=selftest_ok)
    path = matrix_path(settings, matrix.slug)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{matrix.slug}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(stored.model_dump_json(indent=1))
        # mkstemp makes it 0600; the web app may run as another user, and it holds only names
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def load_matrix(settings: Settings, slug: str) -> StoredMatrix | None:
    """The exercise's last stored matrix, None when none was stored."""
    path = matrix_path(settings, slug)
    rerun = f"run `servelab exercise selftest {slug} --matrix` again to replace it"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CoverageStoreError(f"{path} cannot be opened ({exc.strerror}); {rerun}") from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CoverageStoreError(f"{path} is not a regular file; {rerun}")
        raw = handle.read(MAX_STORED_BYTES + 1)
    if len(raw) > MAX_STORED_BYTES:
        raise CoverageStoreError(f"{path} is over {MAX_STORED_BYTES} bytes; {rerun}")
    try:
        stored = StoredMatrix.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.error_count()
        raise CoverageStoreError(
            f"{path} is not a valid matrix ({errors} errors); {rerun}"
        ) from exc
    if stored.matrix.slug != slug:
        raise CoverageStoreError(f"{path} holds the matrix of {stored.matrix.slug!r}; {rerun}")
    return stored
