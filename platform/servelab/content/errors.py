"""Authoring errors that point at a file and a line, and helpers to find that line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ContentError(Exception):
    """One authoring mistake: where it is and what to do about it."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {message}")


class ContentErrors(Exception):
    """Every mistake found in one pass, so authors fix them all at once."""

    def __init__(self, errors: Sequence[ContentError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")


def locate_toml(text: str, loc: Sequence[str | int]) -> int | None:
    """Best-effort 1-based line of the key at pydantic location `loc` in a TOML document.

    Understands top-level keys, `[table]` and `[[array.of.tables]]` headers and
    array indexes into them; falls back to the nearest enclosing header.
    """
    lines = text.splitlines()
    best: int | None = None
    start, end = 0, len(lines)
    prefix: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int):
            i += 1
            continue
        dotted = ".".join([*prefix, part])
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        header_lines = [
            n
            for n in range(start, end)
            if (m := _TABLE_HEADER.match(lines[n])) and m.group(1).strip() == dotted
        ]
        if header_lines:
            index = nxt if isinstance(nxt, int) else 0
            if index >= len(header_lines):
                return best
            h = header_lines[index]
            best = h + 1
            start = h + 1
            end = next(
                (n for n in range(start, len(lines)) if lines[n].lstrip().startswith("[")),
                len(lines),
            )
            prefix = []
            i += 2 if isinstance(nxt, int) else 1
            continue
        for n in range(start, end):
            m = _KEY.match(lines[n])
            if m and m.group(1).strip("\"'") == part:
                return n + 1
        return best
    return best


def errors_from_validation(
    path: Path, exc: ValidationError, locate: Any, line_offset: int = 0
) -> list[ContentError]:
    """Turn a pydantic ValidationError into ContentErrors with lines from `locate(loc)`."""
    out = []
    for err in exc.errors():
        loc = err["loc"]
        line = locate(loc)
        field = ".".join(str(p) for p in loc) or "(document)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key '{loc[-1]}' (check the spelling; allowed keys are documented)"
        out.append(ContentError(path, line + line_offset if line else None, f"{field}: {msg}"))
    return out


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and parsed data of a TOML file; a syntax error becomes ContentErrors."""
    text = path.read_text(encoding="utf-8")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ContentErrors(
            [ContentError(path, int(m.group(1)) if m else None, f"invalid TOML: {exc}")]
        ) from exc


def load_toml_model(path: Path, model: type[M]) -> M:
    """Parse a TOML file into `model`, raising ContentErrors that name file and line."""
    text, data = read_toml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContentErrors(
            errors_from_validation(path, exc, lambda loc: locate_toml(text, loc))
        ) from exc
