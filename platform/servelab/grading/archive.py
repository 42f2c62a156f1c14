"""Unpack a learner's submission (zip, editor files or a local folder) safely into its own folder.

Every way in goes through the same plan: names are checked (no `..`, absolute paths, links or
odd characters), counts and sizes are capped, source files must be UTF-8, and a single top-level
folder that wraps everything is stripped. Files are then created with O_EXCL | O_NOFOLLOW under a
resolved destination, so nothing is ever written outside it.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

MiB = 1024 * 1024
MAX_COMPRESSED = 10 * MiB
MAX_UNCOMPRESSED = 50 * MiB
MAX_FILES = 500
MAX_PATH_LENGTH = 200
MAX_DEPTH = 12
SOURCE_SUFFIXES = frozenset({".py", ".txt", ".toml", ".md"})
# Editor and OS droppings: skipped silently rather than refused, they are never the learner's code.
JUNK_PARTS = frozenset(
    {
        "__pycache__",
        "__MACOSX",
        ".DS_Store",
        ".git",
        ".venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
    }
)
_CHUNK = 64 * 1024


class ArchiveError(ValueError):
    """A submission that cannot be accepted; the message is shown to the learner as is."""


@dataclass(frozen=True)
class _Entry:
    """One file to write: its checked relative path and a way to read its bytes."""

    path: PurePosixPath
    size: int
    open: Callable[[], BinaryIO]


def _fmt_bytes(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(p in JUNK_PARTS for p in parts) or parts[-1].endswith(".pyc")


def _checked_path(raw: str) -> PurePosixPath | None:
    """The relative path for `raw`, None for junk to skip; ArchiveError for anything unsafe."""
    shown = raw[:120]
    if "\x00" in raw or any(ord(c) < 32 for c in raw):
        raise ArchiveError(f"The file name {shown!r} contains control characters. Rename it.")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ArchiveError(f"The file name {shown!r} is not valid text. Rename it.") from None
    name = raw.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(
            f"The archive contains {shown!r}, an absolute path. Zip your submission folder "
            "so that every path is relative to it (train.py, main.py, ...)."
        )
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(
            f"The archive contains {shown!r}, a path that climbs out of the submission folder "
            "with '..'. Zip the folder itself; paths must stay inside it."
        )
    if not parts:
        return None
    if len(name) > MAX_PATH_LENGTH or len(parts) > MAX_DEPTH:
        raise ArchiveError(f"The path {shown!r} is too long or too deeply nested.")
    if _is_junk(parts):
        return None
    return PurePosixPath(*parts)


def _strip_wrapper(entries: list[_Entry]) -> list[_Entry]:
    """Drop a single top-level folder wrapping every file (the learner zipped the folder)."""
    if not entries or any(len(e.path.parts) < 2 for e in entries):
        return entries
    tops = {e.path.parts[0] for e in entries}
    if len(tops) != 1:
        return entries
    return [_Entry(PurePosixPath(*e.path.parts[1:]), e.size, e.open) for e in entries]


def _plan(entries: Iterable[_Entry]) -> list[_Entry]:
    """Check the whole set before anything is written: count, declared size, duplicates."""
    planned: list[_Entry] = []
    total = 0
    for entry in entries:
        planned.append(entry)
        total += entry.size
        if len(planned) > MAX_FILES:
            raise ArchiveError(
                f"The submission has more than {MAX_FILES} files. Submit only your service's "
                "code (train.py, main.py, helper modules, requirements.txt), not data or "
                "virtual environments."
            )
        if total > MAX_UNCOMPRESSED:
            raise ArchiveError(
                f"The submission unpacks to more than {_fmt_bytes(MAX_UNCOMPRESSED)}. "
                "Leave data and trained models out: train.py builds the model from DATA_DIR."
            )
    planned = _strip_wrapper(planned)
    seen: set[PurePosixPath] = set()
    for entry in planned:
        if entry.path in seen:
            raise ArchiveError(f"The file {str(entry.path)!r} appears twice in the submission.")
        seen.add(entry.path)
    dirs = {parent for e in planned for parent in e.path.parents}
    for entry in planned:
        if entry.path in dirs:
            raise ArchiveError(f"{str(entry.path)!r} is both a file and a folder.")
    if not planned:
        raise ArchiveError("The submission is empty. It needs at least train.py and main.py.")
    return planned


def _open_excl(target: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(target, flags, 0o644)


def _make_parents(root: Path, rel: PurePosixPath) -> Path:
    """Create rel's parent folders under root one by one, refusing anything that is not a dir."""
    current = root
    for part in rel.parts[:-1]:
        current = current / part
        try:
            current.mkdir(mode=0o755)
        except FileExistsError:
            if current.is_symlink() or not current.is_dir():
                raise ArchiveError(
                    f"{str(rel)!r} cannot be created: a parent is not a folder."
                ) from None
    return current / rel.parts[-1]


def _write(entries: list[_Entry], dest: Path) -> list[str]:
    """Write every entry under dest; on any refusal, remove the files this call created."""
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve(strict=True)
    created: list[Path] = []
    try:
        return _write_all(entries, root, created)
    except BaseException:
        for path in reversed(created):
            path.unlink(missing_ok=True)
        raise


def _write_all(entries: list[_Entry], root: Path, created: list[Path]) -> list[str]:
    written_total = 0
    names: list[str] = []
    for entry in entries:
        target = _make_parents(root, entry.path)
        if not target.parent.resolve(strict=True).is_relative_to(root):
            raise ArchiveError(f"{str(entry.path)!r} would be written outside the submission.")
        is_source = entry.path.suffix.lower() in SOURCE_SUFFIXES
        try:
            fd = _open_excl(target)
        except FileExistsError:
            raise ArchiveError(
                f"The file {str(entry.path)!r} appears twice in the submission."
            ) from None
        created.append(target)
        utf8 = _Utf8Check(entry.path) if is_source else None
        with os.fdopen(fd, "wb") as out, entry.open() as src:
            size = 0
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                written_total += len(chunk)
                # Declared sizes can lie; the bytes actually written are what counts.
                if size > entry.size or written_total > MAX_UNCOMPRESSED:
                    raise ArchiveError(
                        f"The submission unpacks to more than {_fmt_bytes(MAX_UNCOMPRESSED)} "
                        f"(at {str(entry.path)!r}). Leave data and trained models out."
                    )
                if utf8 is not None:
                    utf8.feed(chunk)
                out.write(chunk)
        if utf8 is not None:
            utf8.feed(b"", final=True)
        names.append(str(entry.path))
    return sorted(names)


class _Utf8Check:
    """Checks a source file is UTF-8 chunk by chunk, so a large file is never held in memory."""

    def __init__(self, path: PurePosixPath) -> None:
        self._path = path
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._lines_before = 0  # newlines in the chunks already checked

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        carried, _ = self._decoder.getstate()  # an unfinished character from the last chunk
        try:
            self._decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            window = carried + chunk  # `carried` holds no newline: it is one partial character
            try:
                window.decode("utf-8")
                bad_at = len(window)
            except UnicodeDecodeError as exc:
                bad_at = exc.start
            line = self._lines_before + window[:bad_at].count(b"\n") + 1
            raise ArchiveError(
                f"{str(self._path)!r} is not UTF-8 text (first bad byte on line {line}). Save "
                "it as UTF-8 in your editor; Python reads source files as UTF-8."
            ) from None
        self._lines_before += chunk.count(b"\n")


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> BinaryIO:
    return cast(BinaryIO, archive.open(info))


def _open_file(path: Path) -> BinaryIO:
    return path.open("rb")


def _zip_entries(archive: zipfile.ZipFile) -> Iterator[_Entry]:
    for info in archive.infolist():
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise ArchiveError(
                f"The archive contains a symbolic link, {info.filename[:120]!r}. "
                "Links are not allowed: include the real file instead."
            )
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveError(f"{info.filename[:120]!r} is not a regular file.")
        path = _checked_path(info.filename)
        if path is None or info.is_dir() or kind == stat.S_IFDIR:
            continue
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{str(path)!r} is encrypted. Submit an archive without password.")
        yield _Entry(path, info.file_size, partial(_open_member, archive, info))


def extract_zip(data: bytes | BinaryIO, dest: Path) -> list[str]:
    """Unpack a submitted .zip (its bytes, or a seekable file such as an upload spooled to
    disk, which is then read a piece at a time) into dest; returns the relative paths written."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    size = source.seek(0, os.SEEK_END)
    source.seek(0)
    if size > MAX_COMPRESSED:
        raise ArchiveError(
            f"The archive is {_fmt_bytes(size)}; the limit is {_fmt_bytes(MAX_COMPRESSED)}. "
            "Leave data and trained models out: train.py builds the model from DATA_DIR."
        )
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise ArchiveError(
            "This file is not a valid .zip archive. Upload a .zip of your folder."
        ) from None
    with archive:
        try:
            entries = _plan(_zip_entries(archive))
            return _write(entries, dest)
        except ArchiveError:
            raise
        except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError, RuntimeError) as exc:
            raise ArchiveError(
                f"The archive could not be read ({type(exc).__name__}). Create it again with a "
                "standard zip tool."
            ) from None


def write_files(files: dict[str, str], dest: Path) -> list[str]:
    """Write files from the browser editor (name -> text) into dest, with the same checks."""
    entries = []
    for name, text in files.items():
        path = _checked_path(name)
        if path is None:
            continue
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            raise ArchiveError(f"{str(path)!r} contains characters that are not text.") from None
        entries.append(_Entry(path, len(raw), partial(io.BytesIO, raw)))
    return _write(_plan(entries), dest)


def _tree_entries(src: Path) -> Iterator[_Entry]:
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                raise ArchiveError(f"{name!r} in {here} is a symbolic link; links are not allowed.")
        dirnames[:] = sorted(d for d in dirnames if d not in JUNK_PARTS)
        for name in sorted(filenames):
            full = here / name
            info = full.lstat()
            rel = full.relative_to(src).as_posix()
            if stat.S_ISLNK(info.st_mode):
                raise ArchiveError(f"{rel!r} is a symbolic link; links are not allowed.")
            if not stat.S_ISREG(info.st_mode):
                raise ArchiveError(f"{rel!r} is not a regular file.")
            path = _checked_path(rel)
            if path is not None:
                yield _Entry(path, info.st_size, partial(_open_file, full))


def copy_tree(src: Path, dest: Path) -> list[str]:
    """Copy a local submission folder (`servelab grade DIR`) into dest, with the same checks."""
    if src.is_symlink() or not src.is_dir():
        raise ArchiveError(f"{src} is not a folder.")
    return _write(_plan(_tree_entries(src)), dest)
