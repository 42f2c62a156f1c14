"""Archive safety: every way a submission arrives is checked the same way, and nothing escapes."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from servelab.grading.archive import (
    MAX_COMPRESSED,
    MAX_FILES,
    MAX_UNCOMPRESSED,
    ArchiveError,
    copy_tree,
    extract_zip,
    write_files,
)

MiB = 1024 * 1024


def make_zip(entries: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def test_a_plain_submission_is_unpacked(tmp_path: Path) -> None:
    data = make_zip({"train.py": b"print(1)\n", "main.py": b"app = 1\n", "pkg/util.py": b"x=1\n"})
    assert extract_zip(data, tmp_path / "d") == ["main.py", "pkg/util.py", "train.py"]
    assert (tmp_path / "d" / "pkg" / "util.py").read_text() == "x=1\n"


def test_a_single_wrapping_folder_is_stripped(tmp_path: Path) -> None:
    data = make_zip({"my-service/train.py": b"1\n", "my-service/main.py": b"2\n"})
    assert extract_zip(data, tmp_path / "d") == ["main.py", "train.py"]


def test_two_top_level_folders_are_kept(tmp_path: Path) -> None:
    data = make_zip({"a/train.py": b"1\n", "b/main.py": b"2\n"})
    assert extract_zip(data, tmp_path / "d") == ["a/train.py", "b/main.py"]


def test_os_and_editor_junk_is_skipped(tmp_path: Path) -> None:
    data = make_zip(
        {
            "train.py": b"1\n",
            "__MACOSX/._train.py": b"\x00\x05",
            "__pycache__/train.cpython-311.pyc": b"\x00",
            ".DS_Store": b"\x00",
        }
    )
    assert extract_zip(data, tmp_path / "d") == ["train.py"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.py", "climbs out"),
        ("a/../../evil.py", "climbs out"),
        ("..\\evil.py", "climbs out"),
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/evil.py", "absolute path"),
        ("bad\x01name.py", "control characters"),
    ],
)
def test_unsafe_names_are_refused_and_nothing_is_written(
    tmp_path: Path, name: str, message: str
) -> None:
    data = make_zip({"train.py": b"1\n", name: b"owned\n"})
    with pytest.raises(ArchiveError, match=message):
        extract_zip(data, tmp_path / "sub" / "d")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


def test_symlinks_are_refused(tmp_path: Path) -> None:
    data = make_zip({"train.py": b"1\n"}, symlinks={"main.py": "/etc/passwd"})
    with pytest.raises(ArchiveError, match="symbolic link"):
        extract_zip(data, tmp_path / "d")


def test_too_large_compressed_archive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="the limit is 10.0 MiB"):
        extract_zip(b"\0" * (MAX_COMPRESSED + 1), tmp_path / "d")


def test_too_many_files_is_refused(tmp_path: Path) -> None:
    data = make_zip({f"f{i}.py": b"" for i in range(MAX_FILES + 1)})
    with pytest.raises(ArchiveError, match="more than 500 files"):
        extract_zip(data, tmp_path / "d")


def test_declared_size_over_the_limit_is_refused_before_writing(tmp_path: Path) -> None:
    data = make_zip(
        {"a.bin": b"\0" * (MAX_UNCOMPRESSED // 2 + 1), "b.bin": b"\0" * (MAX_UNCOMPRESSED // 2 + 1)}
    )
    with pytest.raises(ArchiveError, match="unpacks to more than"):
        extract_zip(data, tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_a_lying_size_header_is_caught_while_writing(tmp_path: Path) -> None:
    data = bytearray(make_zip({"train.py": b"print('hello world')\n" * 100}))
    # Patch the central directory's uncompressed size (offset 24 in its header) down to 10.
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    with pytest.raises(ArchiveError):
        extract_zip(bytes(data), tmp_path / "d")
    assert not (tmp_path / "d" / "train.py").exists()


def test_non_utf8_source_is_refused_with_its_line(tmp_path: Path) -> None:
    data = make_zip({"train.py": b"x = 1\ny = '\xe9'\n", "model.bin": b"\xff\xfe"})
    with pytest.raises(
        ArchiveError, match=r"'train.py' is not UTF-8 text \(first bad byte on line 2\)"
    ):
        extract_zip(data, tmp_path / "d")


def test_binary_files_need_not_be_utf8(tmp_path: Path) -> None:
    assert extract_zip(make_zip({"weights.bin": b"\xff\xfe"}), tmp_path / "d") == ["weights.bin"]


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", b"1")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("train.py", b"2")
    with pytest.raises(ArchiveError, match="appears twice"):
        extract_zip(buffer.getvalue(), tmp_path / "d")


def test_garbage_is_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not a valid .zip"):
        extract_zip(b"this is not a zip", tmp_path / "d")


def test_an_existing_symlink_in_dest_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / "pkg").symlink_to(outside)
    with pytest.raises(ArchiveError, match="not a folder"):
        extract_zip(make_zip({"pkg/evil.py": b"1\n", "train.py": b"1\n"}), dest)
    assert list(outside.iterdir()) == []


def test_editor_files_get_the_same_checks(tmp_path: Path) -> None:
    assert write_files({"train.py": "a", "main.py": "b"}, tmp_path / "d") == ["main.py", "train.py"]
    with pytest.raises(ArchiveError, match="climbs out"):
        write_files({"../x.py": "a"}, tmp_path / "e")
    with pytest.raises(ArchiveError, match="empty"):
        write_files({}, tmp_path / "f")


def test_editor_text_with_lone_surrogates_is_refused_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="not text"):
        write_files({"train.py": "x = '\udcff'"}, tmp_path / "d")
    with pytest.raises(ArchiveError, match="not valid text"):
        write_files({"tr\udcffain.py": "x = 1"}, tmp_path / "e")


def test_copy_tree_copies_a_folder_and_skips_caches(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "__pycache__").mkdir(parents=True)
    (src / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (src / ".venv" / "lib").mkdir(parents=True)
    (src / ".venv" / "lib" / "big.py").write_text("x")
    (src / "train.py").write_text("1")
    (src / "main.py").write_text("2")
    assert copy_tree(src, tmp_path / "d") == ["main.py", "train.py"]


def test_copy_tree_refuses_symlinks(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text("1")
    os.symlink("/etc/passwd", src / "main.py")
    with pytest.raises(ArchiveError, match="symbolic link"):
        copy_tree(src, tmp_path / "d")
    (src / "main.py").unlink()
    os.symlink("/etc", src / "conf")
    with pytest.raises(ArchiveError, match="symbolic link"):
        copy_tree(src, tmp_path / "e")


def test_copy_tree_refuses_what_is_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="is not a folder"):
        copy_tree(tmp_path / "missing", tmp_path / "d")


@pytest.mark.parametrize("lines_before", [3, 13_107, 20_000])
def test_non_utf8_is_found_on_its_line_in_a_large_file(tmp_path: Path, lines_before: int) -> None:
    # 13,107 five-byte lines end one byte before the first 64 KiB read: the next character
    # straddles two reads. 20,000 lines put the bad byte well past the first read.
    prefix = b"# ok\n" * lines_before
    good = make_zip({"train.py": prefix + "é\n".encode()})
    assert extract_zip(good, tmp_path / "good") == ["train.py"]
    for name, tail in (("bad", b"\xe9'\n"), ("truncated", b"\xc3")):
        with pytest.raises(ArchiveError, match=rf"first bad byte on line {lines_before + 1}\)"):
            extract_zip(make_zip({"train.py": prefix + tail}), tmp_path / name)
