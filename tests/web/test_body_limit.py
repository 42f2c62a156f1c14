"""One body-size limit on every route (web/body_limit.py): 413 before the body is spent.

The in-process tests check the shapes and the per-route limits; the live one sends a
200 MB body (from a generator, never allocated) to one route of every family of a real
server and measures the server's memory.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from live_server import PeakMemory, live_server
from servelab.accounts import users as accounts
from servelab.db.engine import make_engine
from servelab.db.models import Role
from servelab.settings import Settings
from support import PASSWORD, csrf_from, login

MiB = 2**20
SLUG = "fastapi-for-ml-apis"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MULTIPART = "multipart/form-data; boundary=servelab-test"


MULTIPART_HEAD = (
    b'--servelab-test\r\nContent-Disposition: form-data; name="archive"; '
    b'filename="big.zip"\r\nContent-Type: application/zip\r\n\r\n'
)


def _stream(total: int, sent: list[int], head: bytes = b"") -> Iterator[bytes]:
    """`head`, then `total` bytes in 64 KiB chunks; `sent` counts what was taken."""
    chunk = b"a" * (64 * 1024)
    produced = 0
    yield head
    while produced < total:
        produced += len(chunk)
        sent[0] += len(chunk)
        yield chunk


def test_declared_length_over_the_limit_is_refused_unread(client: TestClient) -> None:
    sent = [0]
    r = client.post(
        "/login",
        content=_stream(5 * MiB, sent),
        headers={"content-type": FORM, "content-length": str(5 * MiB), "accept": "text/html"},
    )
    assert r.status_code == 413
    assert r.headers["connection"] == "close"
    assert r.template.name == "error.html"  # type: ignore[attr-defined]
    assert "larger than this page accepts (1 MiB)" in r.text


def test_chunked_body_is_refused_once_it_passes_the_limit(client: TestClient) -> None:
    sent = [0]
    r = client.post("/login", content=_stream(5 * MiB, sent), headers={"content-type": FORM})
    assert r.status_code == 413 and r.headers["connection"] == "close"
    assert r.json() == {
        "detail": "The request body is larger than this page accepts (1 MiB). "
        "Shorten what you send and try again."
    }


def test_a_chunked_body_nobody_reads_closes_the_connection(client: TestClient) -> None:
    r = client.request("GET", "/api/v1/me", content=_stream(5 * MiB, [0]))
    assert r.status_code == 401  # answered without reading: the rest is never read
    assert r.headers["connection"] == "close"


def test_a_route_that_ignores_its_body_is_still_refused_a_declared_oversize(
    client: TestClient,
) -> None:
    r = client.request("GET", "/healthz", content=b"x" * (2 * MiB))
    assert r.status_code == 413 and "1 MiB" in r.json()["detail"]
    assert client.request("GET", "/healthz", content=b"x" * 1000).status_code == 200


def test_upload_routes_keep_their_larger_limit(client: TestClient, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    login(client, user)
    token = csrf_from(client, "/account")
    junk = b"\1" * (3 * MiB)  # over the app's 1 MiB, under the uploads' 10 MiB
    r = client.post(
        f"/exercises/{SLUG}/submissions",
        data={"csrf_token": token, "source": "zip"},
        files={"archive": ("big.zip", junk, "application/zip")},
    )
    assert r.status_code == 400  # reached the archive check: not a zip
    r = client.post("/account/tokens", data={"csrf_token": token, "name": "x" * (3 * MiB)})
    assert r.status_code == 413
    too_big = b"\1" * (11 * MiB)
    r = client.post(
        f"/exercises/{SLUG}/submissions",
        data={"csrf_token": token, "source": "zip"},
        files={"archive": ("big.zip", too_big, "application/zip")},
    )
    assert r.status_code == 413 and "the limit is 10 MiB for the archive" in r.text


def test_the_limit_is_a_setting(migrated: Settings) -> None:
    from servelab.web.app import create_app

    app = create_app(migrated.model_copy(update={"max_body_bytes": 4096}))
    with TestClient(app) as client:
        assert (
            client.post("/login", content=b"x" * 5000, headers={"content-type": FORM}).status_code
            == 413
        )
        r = client.post("/login", content=b"email=a", headers={"content-type": FORM})
        assert r.status_code == 403  # under the limit: on to the CSRF check


# --- 200 MB to every route family of a real server ---------------------------------------------


def _families(attempt_id: int) -> list[tuple[str, str, str, str, str]]:
    """(family, method, path, who, content type) for one route of each family."""
    return [
        ("sign-up form", "POST", "/signup", "anonymous", FORM),
        ("login form", "POST", "/login", "anonymous", FORM),
        ("account token form", "POST", "/account/tokens", "learner", FORM),
        ("password form", "POST", "/account/password", "learner", FORM),
        ("log-out form", "POST", "/logout", "learner", FORM),
        ("quiz HTML form", "POST", f"/quizzes/{SLUG}/attempts/{attempt_id}", "learner", FORM),
        (
            "quiz API JSON",
            "POST",
            f"/api/v1/quizzes/{SLUG}/attempts/{attempt_id}/submit",
            "bearer",
            JSON,
        ),
        ("submissions API", "POST", "/api/v1/submissions", "bearer", JSON),
        ("upload form", "POST", f"/exercises/{SLUG}/submissions", "learner", MULTIPART),
        ("instructor: new account", "POST", "/instructor/users", "instructor", FORM),
        (
            "instructor: regrade",
            "POST",
            f"/instructor/exercises/{SLUG}/regrade",
            "instructor",
            FORM,
        ),
        ("ops", "GET", "/healthz", "anonymous", JSON),
    ]


def _log_in(client: httpx.Client, email: str) -> None:
    html = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    r = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert r.status_code == 303, r.text


@pytest.mark.slow
def test_200_mb_bodies_to_every_route_family_are_refused_with_bounded_memory(
    settings: Settings, tmp_path: Path
) -> None:
    with live_server(settings, tmp_path) as server:
        engine = make_engine(settings)
        with Session(engine) as db:
            learner = accounts.create_user(db, email="learner@example.org", password=PASSWORD)
            accounts.create_user(
                db, email="prof@example.org", password=PASSWORD, role=Role.INSTRUCTOR
            )
            bearer = {"authorization": f"Bearer {accounts.create_api_token(db, user=learner)}"}
        engine.dispose()
        clients = {
            "anonymous": server.client(timeout=60),
            "learner": server.client(timeout=60),
            "instructor": server.client(timeout=60),
            "bearer": server.client(timeout=60, headers=bearer),
        }
        _log_in(clients["learner"], "learner@example.org")
        _log_in(clients["instructor"], "prof@example.org")
        attempt = clients["bearer"].post(f"/api/v1/quizzes/{SLUG}/attempts").json()["id"]

        size = 200 * MiB
        rows = []
        with PeakMemory(server) as total:
            for family, method, path, who, content_type in _families(attempt):
                for declared in (True, False):
                    sent = [0]
                    headers = {"content-type": content_type}
                    if declared:
                        headers["content-length"] = str(size)
                    if who in ("anonymous", "learner", "instructor") and content_type != JSON:
                        headers["accept"] = "text/html"
                    started = time.perf_counter()
                    with PeakMemory(server) as one:
                        r = clients[who].request(
                            method,
                            path,
                            content=_stream(
                                size, sent, MULTIPART_HEAD if "multipart" in content_type else b""
                            ),
                            headers=headers,
                        )
                    seconds = time.perf_counter() - started
                    rows.append((family, declared, r, sent[0], seconds, one.growth_mib))
        # The refused log-out form did not run: the learner is still logged in.
        assert clients["learner"].get("/account").status_code == 200
        for client in clients.values():
            client.close()

        print(f"\n{'family':26} {'length':9} status  sent MiB  seconds  server growth MiB")
        for family, declared, r, sent_bytes, seconds, growth in rows:
            kind = "declared" if declared else "chunked"
            print(
                f"{family:26} {kind:9} {r.status_code:6}  {sent_bytes / MiB:8.1f}  "
                f"{seconds:7.2f}  {growth:6.1f}"
            )
        print(
            f"server RSS before {total.before_mib:.0f} MiB, peak {total.peak_mib:.0f} MiB, "
            f"growth {total.growth_mib:.1f} MiB over {len(rows)} bodies of 200 MB"
        )
        for family, declared, r, sent_bytes, _seconds, _growth in rows:
            where = f"{family} ({'declared' if declared else 'chunked'})"
            assert r.headers["connection"] == "close", where
            assert sent_bytes < 64 * MiB, f"{where}: the server read {sent_bytes / MiB:.0f} MiB"
            if family == "ops" and not declared:
                # /healthz never reads a body: it answers, and the rest is never read.
                assert r.status_code == 200, where
                continue
            assert r.status_code == 413, f"{where}: {r.status_code} {r.text[:200]}"
            if "text/html" in r.request.headers.get("accept", ""):
                assert "That is more than ServeLab accepts" in r.text, where
            else:
                assert "detail" in r.json(), where
            limit = "10 MiB for the archive" if "submissions" in r.request.url.path else "1 MiB"
            assert limit in r.text, where
        assert total.growth_mib < 100, "the server's memory grew with the bodies"
