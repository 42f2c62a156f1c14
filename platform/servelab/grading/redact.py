"""The last line of defence against hidden-data leaks in learner-visible text.

Feedback is meant to be text the grader wrote plus values it computed. A grader bug that quotes
a service's response verbatim would hand a hostile service a channel back to its author (it
received the hidden rows as requests). Before a result document is written, every learner-
visible string is compared with a fingerprint of the hidden data; a hit is withheld and
reported to instructors as a grader bug.

The fingerprint holds the hidden data's *hidden-only* tokens: numbers with at least four
significant digits and words of at least five characters that occur under `<grader>/data/`
but not in the exercise's public files nor in the grader's or the plugin's own source. A text
(a feedback note, a table row, a name) leaks when it holds two distinct hidden-only tokens,
or one together with at least half of the atoms of a hidden row it comes from, in plain text
or inside hex or base64 runs (decoded up to two levels). Short or common values (0/1 labels,
category names that are also public) cannot be told apart from honest numbers and are not
covered.
"""

from __future__ import annotations

import base64
import binascii
import csv
import math
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from servelab.grading.results import Cell

WITHHELD = (
    "This feedback was withheld because it contained hidden test data. This is a problem in "
    "the grader, not in your code; your instructors have been told."
)
WITHHELD_NAME = "A check whose name was withheld (it contained hidden test data)"

MIN_DIGITS = 4
MIN_LETTERS = 5
MIN_HITS = 2
MAX_READ_BYTES = 32 * 1024 * 1024  # per folder read, spent once per suite
MAX_HIDDEN_TOKENS = 400_000
MAX_ROWS = 100_000
_SCAN_CHARS = 200_000  # longer texts are checked on their head and tail

_ATOM = re.compile(r"\d+\.\d+|[^\W_]+")
_HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SOURCE_SUFFIXES = {".py", ".md", ".toml", ".txt", ".json", ".yaml", ".yml", ".cfg", ".ini"}
_PLUGIN_SOURCE = Path(__file__).resolve().parent


def canonical(atom: str) -> str:
    """One spelling per value: lower case; numbers without leading or trailing zeros."""
    atom = atom.lower()
    if not _NUMBER.fullmatch(atom):
        return atom
    whole, _, fraction = atom.partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def _significant(atom: str) -> bool:
    if _NUMBER.fullmatch(atom):
        return len(atom.replace(".", "").lstrip("0")) >= MIN_DIGITS
    return len(atom) >= MIN_LETTERS


def atoms(text: str) -> set[str]:
    return {canonical(a) for a in _ATOM.findall(text)}


def _decoded(text: str) -> Iterator[str]:
    """Texts hidden in hex or base64 runs of `text` (standard or URL-safe alphabet)."""
    for run in _HEX_RUN.findall(text):
        yield binascii.unhexlify(run).decode("utf-8", errors="ignore")
    for run in _B64_RUN.findall(text):
        run = run.replace("-", "+").replace("_", "/")
        for offset in range(4):  # the run may start inside the encoded text
            usable = run[offset:]
            usable = usable[: len(usable) - len(usable) % 4]
            if len(usable) >= 16:
                yield base64.b64decode(usable).decode("utf-8", errors="ignore")


def visible_atoms(text: str, depth: int = 2) -> set[str]:
    """The canonical atoms of `text` and of what it encodes, `depth` levels down."""
    if len(text) > _SCAN_CHARS:
        half = _SCAN_CHARS // 2
        text = text[:half] + " " + text[-half:]
    found = atoms(text)
    if depth:
        for inner in _decoded(text):
            if len(inner) >= 8:
                found |= visible_atoms(inner, depth - 1)
    return found


def _hidden_rows(path: Path) -> Iterator[list[str]]:
    """Rows of a CSV or TSV file, or lines of any other text file, read as a stream."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix.lower() in (".csv", ".tsv"):
            yield from csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        else:
            for line in handle:
                yield [line]


def _files(folder: Path, suffixes: set[str] | None = None) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and (suffixes is None or path.suffix.lower() in suffixes):
            yield path


@dataclass
class Fingerprint:
    """Hidden-only tokens (each with the first hidden row holding it) and those rows' atoms."""

    tokens: dict[str, int] = field(default_factory=dict)
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for instructors: what is not covered

    @classmethod
    def build(
        cls,
        hidden_dir: Path,
        *,
        public_dirs: Iterable[Path] = (),
        source_dirs: Iterable[Path] = (),
    ) -> Fingerprint:
        """Read the hidden data once; drop tokens the public files or the sources also hold."""
        found = cls()
        read = 0
        for path in _files(hidden_dir):
            read += path.stat().st_size
            name = path.relative_to(hidden_dir)
            if read > MAX_READ_BYTES or len(found.tokens) >= MAX_HIDDEN_TOKENS:
                found.notes.append(
                    f"the hidden data are over {MAX_READ_BYTES // 2**20} MB or "
                    f"{MAX_HIDDEN_TOKENS} distinct values: the leak check stops before {name}"
                )
                break
            try:
                found._add_rows(_hidden_rows(path))
            except (UnicodeDecodeError, csv.Error):
                found.notes.append(f"hidden file {name} is not UTF-8 text: not fully covered")
        for folder in public_dirs:
            found._drop_tokens_in(_files(folder), skip=hidden_dir)
        for folder in [*source_dirs, _PLUGIN_SOURCE]:
            found._drop_tokens_in(_files(folder, _SOURCE_SUFFIXES), skip=hidden_dir)
        return found

    def _add_rows(self, rows: Iterable[list[str]]) -> None:
        for cells in rows:
            row_atoms = atoms(" ".join(cells))
            significant = [a for a in row_atoms if _significant(a)]
            if not significant:
                continue
            index = -1
            if len(self.rows) < MAX_ROWS:  # interned: common cells ("1", "east") stored once
                index = len(self.rows)
                self.rows.append(tuple(sys.intern(a) for a in row_atoms))
            for token in significant:
                if len(self.tokens) >= MAX_HIDDEN_TOKENS:
                    return
                self.tokens.setdefault(token, index)

    def _drop_tokens_in(self, paths: Iterable[Path], *, skip: Path) -> None:
        read = 0
        for path in paths:
            if path.is_relative_to(skip):
                continue
            read += path.stat().st_size
            if read > MAX_READ_BYTES:
                self.notes.append(
                    f"public files and sources over {MAX_READ_BYTES // 2**20} MB: values only "
                    "in the rest count as hidden (more feedback may be withheld)"
                )
                return
            with path.open(encoding="utf-8", errors="ignore") as handle:
                for line in handle:
                    for atom in _ATOM.findall(line):
                        self.tokens.pop(canonical(atom), None)

    def leaks(self, text: str) -> bool:
        """Whether `text` holds hidden data (see the module docstring for the rule)."""
        if not self.tokens or not text:
            return False
        found = visible_atoms(text)
        hits = [token for token in found if token in self.tokens]
        if len(hits) >= MIN_HITS:
            return True
        if not hits or self.tokens[hits[0]] < 0:
            return False
        row = self.rows[self.tokens[hits[0]]]
        return len(found.intersection(row)) >= max(3, math.ceil(len(row) / 2))


class Redactor:
    """Withholds learner-visible strings and tables that hold hidden data."""

    def __init__(self, fingerprint: Fingerprint) -> None:
        self.fingerprint = fingerprint

    def text(self, text: str, replacement: str = WITHHELD) -> tuple[str, bool]:
        if self.fingerprint.leaks(text):
            return replacement, True
        return text, False

    def table(
        self, name: str, rows: list[dict[str, Cell]]
    ) -> tuple[str, list[dict[str, Cell]], list[str]]:
        """The table with a leaking name or any leaking row withheld; which parts leaked."""
        leaked: list[str] = []
        name, hit = self.text(name, "Table withheld (it contained hidden test data)")
        if hit:
            leaked.append("a table name")
        for row in rows:
            if self.fingerprint.leaks(" ".join(f"{key} {value}" for key, value in row.items())):
                leaked.append(f"rows of table {name[:100]!r}")
                rows = [{"note": WITHHELD}]
                break
        return name, rows, leaked
