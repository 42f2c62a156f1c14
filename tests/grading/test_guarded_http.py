"""The grader's client against hostile services: bounded in time, bytes, headers and cookies."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator

import httpx
import pytest
from attack_services import RawHttpServer, attack_service, gzip_bomb

from servelab.grading.guarded_http import (
    DeadlineExceeded,
    EncodingRefused,
    HeadersTooLarge,
    Problem,
    ResponseTooLarge,
    ServiceLimits,
    service_client,
)


@pytest.fixture
def server() -> Iterator[RawHttpServer]:
    with attack_service() as running:
        yield running


class _Client:
    def __init__(self, server: RawHttpServer, **limits: float) -> None:
        self.problems: list[Problem] = []
        self.budget_ends = float("inf")
        self.client = service_client(
            uds=str(server.path),
            limits=ServiceLimits(**limits),  # type: ignore[arg-type]
            time_left=lambda: self.budget_ends - time.monotonic(),
            on_problem=self.problems.append,
        )

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_gzip_bomb_is_refused_after_the_decoded_cap(server: RawHttpServer) -> None:
    assert len(gzip_bomb()) < 3000
    client = _Client(server)
    before = _maxrss_mb()
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="over 10 MB once decompressed"):
        client.get("/gzip-bomb")
    print(
        f"\ngzip bomb {len(gzip_bomb())} B -> 1 GiB: refused in "
        f"{time.monotonic() - started:.2f} s, max RSS {before:.0f} -> {_maxrss_mb():.0f} MB"
    )
    assert client.problems == [Problem.TOO_LARGE]
    assert _maxrss_mb() - before < 200  # 10 MB cap, a few copies at most; not 1 GiB
    assert client.get("/ok").json() == {"status": "ok"}  # the client still works


def test_honest_compression_is_decoded_and_identity_is_asked_for(server: RawHttpServer) -> None:
    client = _Client(server)
    assert client.get("/gzip-ok").json() == {"prediction": 2.5}
    assert client.get("/deflate-raw").json() == {"prediction": 3.5}
    assert {r.headers["accept-encoding"] for r in server.seen.requests} == {"identity"}
    with pytest.raises(EncodingRefused, match="Content-Encoding br"):
        client.get("/brotli")
    assert client.problems == [Problem.ENCODING]


def test_plain_body_over_the_cap_is_cut_off(server: RawHttpServer) -> None:
    client = _Client(server)
    with pytest.raises(ResponseTooLarge, match="over 10 MB"):
        client.get("/big")
    assert client.problems == [Problem.TOO_LARGE]


@pytest.mark.parametrize("path", ["/drip", "/continue", "/slow-headers"])
def test_slow_answers_stop_at_the_request_deadline(server: RawHttpServer, path: str) -> None:
    client = _Client(server, deadline_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="did not finish answering within the deadline"):
        client.get(path)
    elapsed = time.monotonic() - started
    print(f"\n{path}: stopped after {elapsed:.2f} s (deadline 1.5 s)")
    assert client.problems == [Problem.DEADLINE]
    assert elapsed < 30  # generous: per-read timeouts alone would never stop these


def test_repeated_deadlines_open_the_breaker(server: RawHttpServer) -> None:
    client = _Client(server, deadline_seconds=0.5)
    for _ in range(2):
        with pytest.raises(httpx.TimeoutException):
            client.get("/drip")
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout, match="timed out repeatedly"):
        client.get("/ok")
    print(f"\nbreaker answered in {time.monotonic() - started:.4f} s")
    assert client.problems == [Problem.DEADLINE, Problem.DEADLINE, Problem.TIMED_OUT]
    assert sum(r.path == "/ok" for r in server.seen.requests) == 0  # not even sent


def test_a_complete_answer_closes_the_breaker_again(server: RawHttpServer) -> None:
    client = _Client(server, deadline_seconds=0.5)
    with pytest.raises(httpx.TimeoutException):
        client.get("/drip")
    assert client.get("/ok").status_code == 200
    with pytest.raises(httpx.TimeoutException):
        client.get("/drip")
    assert client.get("/ok").status_code == 200  # one timeout in a row, not two


def test_the_time_budget_cuts_the_deadline(server: RawHttpServer) -> None:
    client = _Client(server, deadline_seconds=30)
    client.budget_ends = time.monotonic() + 1.0
    with pytest.raises(DeadlineExceeded, match="time budget"):
        client.get("/drip")
    assert client.problems == [Problem.OUT_OF_TIME]
    with pytest.raises(DeadlineExceeded, match="time budget is used up"):
        client.get("/ok")
    assert sum(r.path == "/ok" for r in server.seen.requests) == 0


def test_cookies_are_never_kept_or_sent_back(server: RawHttpServer) -> None:
    client = _Client(server)
    for _ in range(20):
        response = client.get("/cookies")
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
    assert all("cookie" not in r.headers for r in server.seen.requests)
    assert not client.client.cookies
    print(f"\nlargest request head after 20 cookie answers: {server.seen.largest_request_head} B")
    assert server.seen.largest_request_head < 1000


@pytest.mark.parametrize("path", ["/cookie-flood", "/huge-header", "/many-headers"])
def test_header_floods_are_refused(server: RawHttpServer, path: str) -> None:
    client = _Client(server)
    with pytest.raises(HeadersTooLarge):
        client.get(path)
    assert client.problems == [Problem.HEADERS]
    assert client.get("/ok").status_code == 200


def test_a_hung_service_times_out_as_not_answering(tmp_path: object) -> None:
    def hang(request: object, conn: object, stop: object) -> bool:
        stop.wait(30)  # type: ignore[attr-defined]
        return False

    with attack_service({"/hang": hang}) as server:
        client = _Client(server, deadline_seconds=0.5)
        with pytest.raises(httpx.ReadTimeout, match="did not answer within the deadline"):
            client.get("/hang")
    assert client.problems == [Problem.TIMED_OUT]


def test_error_messages_never_quote_the_service(tmp_path: object) -> None:
    secret = "hidden-row-11464-106.17"

    def garbage(request: object, conn: object, stop: object) -> bool:
        conn.sendall(f"HTTP/1.1 200 OK\r\n{secret}\r\n\r\n".encode())  # type: ignore[attr-defined]
        return False

    def encoded(request: object, conn: object, stop: object) -> bool:
        head = f"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-encoding: {secret}\r\n\r\n{{}}"
        conn.sendall(head.encode())  # type: ignore[attr-defined]
        return False

    with attack_service({"/garbage": garbage, "/encoded": encoded}) as server:
        client = _Client(server)
        for path in ("/garbage", "/encoded"):
            with pytest.raises(httpx.HTTPError) as caught:
                client.get(path)
            assert secret not in str(caught.value)
            assert "11464" not in str(caught.value)
    assert client.problems == [Problem.UNREACHABLE, Problem.ENCODING]


def test_a_tcp_base_url_gets_the_same_guard_rails() -> None:
    with RawHttpServer(None) as server:
        problems: list[Problem] = []
        client = service_client(
            base_url=server.url,
            limits=ServiceLimits(deadline_seconds=1),
            on_problem=problems.append,
        )
        assert client.get("/gzip-ok").json() == {"prediction": 2.5}
        with pytest.raises(ResponseTooLarge):
            client.get("/gzip-bomb")
        with pytest.raises(DeadlineExceeded):
            client.get("/drip")
    assert problems == [Problem.TOO_LARGE, Problem.DEADLINE]
