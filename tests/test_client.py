"""The API client's own checks, before anything is sent (platform/servelab/client.py): the
folder is packed under the server's archive rules, the address and the token are vetted."""

from __future__ import annotations

import os
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from servelab.client import ClientError, Failure, checked_server_url, checked_token, pack_folder
from servelab.grading.archive import MAX_COMPRESSED, ArchiveError, extract_zip
from support import SOLUTION, copy_submission


def test_the_packed_zip_is_what_the_server_unpacks_without_the_junk(tmp_path: Path) -> None:
    folder = copy_submission(SOLUTION, tmp_path / "sub")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "helpers").mkdir()
    (folder / "helpers" / "features.py").write_text("SCALE = 2\n")

    packed = pack_folder(folder)

    expected = sorted([*(p.name for p in SOLUTION.iterdir() if p.is_file()), "helpers/features.py"])
    assert packed.files == expected
    with zipfile.ZipFile(BytesIO(packed.data)) as archive:
        assert sorted(archive.namelist()) == expected
    unpacked = tmp_path / "unpacked"
    assert extract_zip(packed.data, unpacked) == expected
    assert (unpacked / "train.py").read_bytes() == (SOLUTION / "train.py").read_bytes()


@pytest.mark.parametrize(
    ("damage", "refusal"),
    [
        (lambda f: (f / "main.py").unlink(), "Your submission has no main.py"),
        (lambda f: (f / "leak.py").symlink_to("/etc/passwd"), "'leak.py' is a symbolic link"),
        (lambda f: (f / "notes.md").write_bytes(b"caf\xe9\n"), "'notes.md' is not UTF-8 text"),
        (
            lambda f: (f / "requirements.txt").write_text("left-pad==1.0\n"),
            "requirements.txt asks for what the image lacks",
        ),
        (
            # Random bytes do not compress: the archive itself is over the server's limit.
            lambda f: (f / "weights.bin").write_bytes(os.urandom(MAX_COMPRESSED + 1024)),
            "the limit is 10.0 MiB",
        ),
    ],
    ids=["no-main", "symlink", "not-utf8", "requirements", "too-large"],
)
def test_the_server_rules_refuse_before_any_upload(
    tmp_path: Path, damage: object, refusal: str
) -> None:
    folder = copy_submission(SOLUTION, tmp_path / "sub")
    damage(folder)  # type: ignore[operator]
    with pytest.raises(ArchiveError) as refused:
        pack_folder(folder)
    assert refusal in str(refused.value)


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        ("https://servelab.example.org/", False, "https://servelab.example.org"),
        ("http://127.0.0.1:8000", False, "http://127.0.0.1:8000"),
        ("http://localhost:8000/course/", False, "http://localhost:8000/course"),
        ("http://servelab.lan", True, "http://servelab.lan"),
    ],
)
def test_server_addresses_accepted(url: str, allow_http: bool, expected: str) -> None:
    assert str(checked_server_url(url, allow_http=allow_http)) == expected


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://servelab.example.org", "would send your token unencrypted"),
        ("servelab.example.org", "--server must be the server's address"),
        ("ftp://servelab.example.org", "--server must be the server's address"),
        ("https://me:pw@servelab.example.org", "must not hold a user name or password"),
    ],
)
def test_server_addresses_refused(url: str, refusal: str) -> None:
    with pytest.raises(ClientError) as refused:
        checked_server_url(url, allow_http=False)
    assert refused.value.kind == Failure.REFUSED and refusal in refused.value.message


def test_tokens_are_checked_and_never_quoted() -> None:
    assert checked_token("  abc-123_XYZ \n") == "abc-123_XYZ"
    for bad in (None, "", "   "):
        with pytest.raises(ClientError, match="No API token"):
            checked_token(bad)
    with pytest.raises(ClientError) as refused:
        checked_token("secret\r\nX-Injected: 1")
    assert refused.value.kind == Failure.TOKEN and "secret" not in refused.value.message
