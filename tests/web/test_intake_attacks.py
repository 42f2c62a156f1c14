"""Uploads built to cost the server: a requirements.txt bomb and a burst of maximal uploads,
sent to ServeLab under a real uvicorn in a child process, with its memory read from /proc."""

from __future__ import annotations

import base64
import io
import random
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from grading_web_helpers import SLUG, TINY, course_settings
from sqlmodel import Session

from live_server import LiveServer, live_server
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.migrate import upgrade
from servelab.db.models import Role
from servelab.grading.archive import MAX_COMPRESSED
from servelab.settings import Settings
from support import PASSWORD, csrf_from, login

MiB = 2**20
BOMB_LINES = 5_000_000


def _starter_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (TINY / "starter").iterdir() if p.is_file()}


def _deflated_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def requirements_bomb() -> bytes:
    """The starter plus a requirements.txt of millions of invalid lines: a few KiB deflated."""
    return _deflated_zip({**_starter_files(), "requirements.txt": b"!!\n" * BOMB_LINES})


def _tokens(settings: Settings, count: int, *, prefix: str = "learner") -> list[str]:
    with Session(make_engine(settings)) as db:
        users = [
            accounts.create_user(
                db, email=f"{prefix}{n}@example.org", password=PASSWORD, role=Role.LEARNER
            )
            for n in range(count)
        ]
        return [accounts.create_api_token(db, user=user) for user in users]


def _measured(server: LiveServer, label: str, send: object) -> httpx.Response:
    before = server.rss_mib()
    started = time.monotonic()
    response = send()  # type: ignore[operator]
    elapsed = time.monotonic() - started
    after, peak = server.rss_mib(), server.peak_rss_mib()
    print(
        f"\n{label}: {response.status_code}, {len(response.content)} bytes in {elapsed:.2f} s; "
        f"server RSS {before:.0f} -> {after:.0f} MiB (peak so far {peak:.0f} MiB)"
    )
    assert after - before < 100, "the refusal cost the server more than 100 MiB"
    return response


@pytest.mark.slow
def test_a_requirements_bomb_is_refused_unread_through_the_api_and_the_form(
    tmp_path: Path,
) -> None:
    settings = course_settings(tmp_path)
    upgrade(settings)
    [token] = _tokens(settings, 1)
    bomb = requirements_bomb()
    print(f"\nthe bomb: {len(bomb)} bytes deflated, {3 * BOMB_LINES / MiB:.1f} MiB unpacked")
    assert len(bomb) < 64 * 1024
    with live_server(settings) as server, httpx.Client(base_url=server.base_url, timeout=120) as c:
        c.get("/exercises/tiny")  # warm the page templates before measuring
        api = _measured(
            server,
            "API",
            lambda: c.post(
                "/api/v1/submissions",
                data={"exercise": SLUG},
                files={"archive": ("bomb.zip", bomb, "application/zip")},
                headers={"Authorization": f"Bearer {token}"},
            ),
        )
        assert api.status_code == 400
        detail = api.json()["detail"]
        assert "requirements.txt is 14648 KiB; the limit is 64 KiB and 500 lines" in detail
        assert "was not read" in detail and len(api.content) < 4096

        with session_as_learner(server.base_url, settings) as browser:
            form = _measured(
                server,
                "HTML form",
                lambda: browser.post(
                    f"/exercises/{SLUG}/submissions",
                    data={"source": "zip", "csrf_token": csrf_from(browser, "/login")},  # type: ignore[arg-type]
                    files={"archive": ("bomb.zip", bomb, "application/zip")},
                    headers={"accept": "text/html"},
                ),
            )
        assert form.status_code == 400 and "the limit is 64 KiB and 500 lines" in form.text
        assert len(form.content) < 200_000  # the whole exercise page, with the message
        print(f"peak server RSS over the test: {server.peak_rss_mib():.0f} MiB")
    assert list(settings.submissions_dir.iterdir()) == []


@contextmanager
def session_as_learner(url: str, settings: Settings) -> Iterator[httpx.Client]:
    """An httpx client on the live server, logged in through the real form as a new learner."""
    with Session(make_engine(settings), expire_on_commit=False) as db:
        user = accounts.create_user(
            db, email="browser@example.org", password=PASSWORD, role=Role.LEARNER
        )
    with httpx.Client(base_url=url, timeout=120) as client:
        login(client, user)  # type: ignore[arg-type]
        yield client


def maximal_upload(seed: int) -> bytes:
    """A valid submission of just under the 10 MiB upload limit: the starter and random text."""
    rng = random.Random(seed)
    text = base64.encodebytes(rng.randbytes(int(MAX_COMPRESSED * 0.93)))
    data = _deflated_zip({**_starter_files(), "notes.txt": text})
    assert MAX_COMPRESSED * 0.9 < len(data) <= MAX_COMPRESSED, len(data)
    return data


def _burst(server: LiveServer, tokens: list[str], uploads: list[bytes]) -> list[int]:
    barrier = threading.Barrier(len(tokens))
    codes: list[int] = []

    def post(token: str, data: bytes) -> None:
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            barrier.wait(timeout=30)
            r = client.post(
                "/api/v1/submissions",
                data={"exercise": SLUG},
                files={"archive": ("big.zip", data, "application/zip")},
                headers={"Authorization": f"Bearer {token}"},
            )
            codes.append(r.status_code)

    threads = [
        threading.Thread(target=post, args=pair) for pair in zip(tokens, uploads, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return codes


def maximal_unpack(seed: int) -> bytes:
    """A valid submission that inflates to nearly the 50 MiB unpacked limit of source text."""
    line = f"# {seed} the same comment line, over and over, compresses very well\n".encode()
    return _deflated_zip({**_starter_files(), "notes.py": line * (48 * MiB // len(line))})


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "make", "bound_mib"),
    [("10 MiB upload", maximal_upload, 150), ("48 MiB unpacked", maximal_unpack, 150)],
)
def test_ten_simultaneous_maximal_uploads_stay_bounded(
    tmp_path: Path, kind: str, make: object, bound_mib: int
) -> None:
    uploads = [make(seed) for seed in range(10)]  # type: ignore[operator]
    for slots in (2, 10):
        settings = course_settings(tmp_path / f"slots-{slots}")
        upgrade(settings)
        # (the PostgreSQL pass gives both rounds one database: other learners for each)
        tokens = _tokens(settings, 10, prefix=f"slots{slots}-")
        with live_server(settings, SERVELAB_INTAKE_CONCURRENCY=str(slots)) as server:
            httpx.get(f"{server.base_url}/exercises/{SLUG}", timeout=30)
            before = server.rss_mib()
            started = time.monotonic()
            codes = _burst(server, tokens, uploads)
            elapsed = time.monotonic() - started
            peak = server.peak_rss_mib()
        print(
            f"\n{kind}, intake_concurrency={slots}: 10 x {len(uploads[0]) / MiB:.2f} MiB "
            f"uploads -> {sorted(codes)} in {elapsed:.1f} s; server RSS before {before:.0f} MiB, "
            f"peak {peak:.0f} MiB (+{peak - before:.0f} MiB)"
        )
        assert codes == [201] * 10
        assert peak - before < bound_mib, f"ten uploads cost the server over {bound_mib} MiB"
