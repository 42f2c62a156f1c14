"""Hostile HTTP services for the grader's client: raw sockets, in threads, on a Unix socket.

Each route answers as a learner's service might to hurt the grader: a gzip bomb, a drip, endless
`100 Continue` lines, slow or huge headers, a cookie flood. Every loop is bounded in count and
time, and stops when the server is closed.
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
import socket
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

MAX_SECONDS = 60.0  # no attack runs longer, whatever the client does


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Seen:
    """What the server received, for tests to assert on."""

    requests: list[Request] = field(default_factory=list)
    largest_request_head: int = 0


# A route writes its own answer; it returns whether the connection may serve another request.
Route = Callable[[Request, socket.socket, threading.Event], bool]


def answer(
    conn: socket.socket,
    body: bytes,
    *,
    status: str = "200 OK",
    headers: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
) -> bool:
    head = [f"HTTP/1.1 {status}", f"content-type: {content_type}", f"content-length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers or []]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    return True


def json_answer(conn: socket.socket, payload: object, **kw: object) -> bool:
    return answer(conn, json.dumps(payload).encode(), **kw)  # type: ignore[arg-type]


@cache
def gzip_bomb() -> bytes:
    """About 2.5 KB of gzip of gzip that inflates to 1 GiB of zeros.

    The inner layer is one deflate block of 1 MiB of zeros repeated 1024 times (a full flush
    makes each block independent), so it is built in a fraction of a second.
    """
    mib = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    inner = header + block * 1024 + b"\x03\x00" + struct.pack("<II", crc, (1 << 30) & 0xFFFFFFFF)
    return gzip.compress(inner, 9)


def _until(stop: threading.Event, started: float) -> bool:
    return not stop.is_set() and time.monotonic() - started < MAX_SECONDS


def route_gzip_bomb(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    return answer(conn, gzip_bomb(), headers=[("content-encoding", "gzip, gzip")])


def route_drip(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    """A valid answer, one byte every 0.2 s (each read is quick: per-read timeouts never fire)."""
    body = json.dumps({"prediction": 1.0, "pad": "x" * 500}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
    started = time.monotonic()
    for byte in body:
        if not _until(stop, started):
            break
        conn.sendall(bytes([byte]))
        time.sleep(0.2)
    return False


def route_endless_continue(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    lines = b"HTTP/1.1 100 Continue\r\n\r\n" * 2000
    started = time.monotonic()
    while _until(stop, started):
        conn.sendall(lines)
    return False


def route_slow_headers(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nx-slow: ")
    started = time.monotonic()
    while _until(stop, started):
        conn.sendall(b"a")
        time.sleep(0.2)
    return False


def route_cookie_flood(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    """Two thousand cookies in one answer."""
    cookies = [("set-cookie", f"c{i}={'v' * 30}; Path=/") for i in range(2000)]
    return json_answer(conn, {"ok": True}, headers=cookies)


def route_cookies(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    """Fifty new 1 KB cookies on every answer: a client that keeps them grows every request."""
    n = len(req.headers.get("cookie", ""))
    cookies = [("set-cookie", f"k{n}_{i}={'v' * 1000}; Path=/") for i in range(50)]
    return json_answer(conn, {"status": "ok"}, headers=cookies)


def route_huge_header(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    return json_answer(conn, {"ok": True}, headers=[("x-huge", "h" * 300_000)])


def route_many_headers(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    return json_answer(conn, {"ok": True}, headers=[(f"x-h{i}", "1") for i in range(150)])


def route_ok(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    return json_answer(conn, {"status": "ok"})


def route_gzip_ok(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    body = gzip.compress(json.dumps({"prediction": 2.5}).encode())
    return answer(conn, body, headers=[("content-encoding", "gzip")])


def route_deflate_raw(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = compressor.compress(json.dumps({"prediction": 3.5}).encode()) + compressor.flush()
    return answer(conn, body, headers=[("content-encoding", "deflate")])


def route_brotli(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    return answer(conn, b"\x0b\x02\x80{}\x03", headers=[("content-encoding", "br")])


def route_big_plain(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    """20 MB with no Content-Length (chunk by chunk, until the client gives up)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(320):
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.sendall(b"0\r\n\r\n")
    return True


def route_echo_hidden(req: Request, conn: socket.socket, stop: threading.Event) -> bool:
    """Carries the request it received back in keys, values and headers: plain, hex, base64."""
    row = req.body.decode("utf-8", errors="replace")
    raw = row.encode()
    payload = {
        row: 1,  # the request itself as a key
        "hex": raw.hex(),
        "b64": base64.b64encode(raw).decode(),
        "prediction": 0.5,
    }
    headers = [("x-echo", base64.urlsafe_b64encode(raw).decode()), ("x-row", raw.hex())]
    return json_answer(conn, payload, headers=headers)


ATTACK_ROUTES: dict[str, Route] = {
    "/gzip-bomb": route_gzip_bomb,
    "/drip": route_drip,
    "/continue": route_endless_continue,
    "/slow-headers": route_slow_headers,
    "/cookie-flood": route_cookie_flood,
    "/cookies": route_cookies,
    "/huge-header": route_huge_header,
    "/many-headers": route_many_headers,
    "/ok": route_ok,
    "/health": route_ok,
    "/gzip-ok": route_gzip_ok,
    "/deflate-raw": route_deflate_raw,
    "/brotli": route_brotli,
    "/big": route_big_plain,
    "/echo": route_echo_hidden,
}


def _read_request(conn: socket.socket, seen: Seen) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk or len(data) > 4 * 2**20:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    seen.largest_request_head = max(seen.largest_request_head, len(head))
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    request = Request(method, path.split("?")[0], headers, body[:length])
    seen.requests.append(request)
    return request


class RawHttpServer:
    """An HTTP/1.1 server on a Unix socket (or loopback TCP without a path), one thread per
    connection, routes by path."""

    def __init__(self, path: Path | None, routes: dict[str, Route] | None = None) -> None:
        self.path = path
        self.routes = routes or ATTACK_ROUTES
        self.seen = Seen()
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        family = socket.AF_INET if path is None else socket.AF_UNIX
        self._listener = socket.socket(family, socket.SOCK_STREAM)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()
        return f"http://{host}:{port}"

    def __enter__(self) -> RawHttpServer:
        self._listener.bind(("127.0.0.1", 0) if self.path is None else str(self.path))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in list(self._conns):  # wake threads waiting for a next request
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(MAX_SECONDS)
        try:
            while not self.stop.is_set():
                request = _read_request(conn, self.seen)
                if request is None:
                    return
                route = self.routes.get(request.path)
                if route is None:
                    json_answer(conn, {"detail": "Not Found"}, status="404 Not Found")
                elif not route(request, conn, self.stop):
                    return
        except OSError:
            return  # the client hung up: what an attack expects
        finally:
            conn.close()


@contextmanager
def attack_service(routes: dict[str, Route] | None = None) -> Iterator[RawHttpServer]:
    """A RawHttpServer on a fresh short socket path (Unix socket paths are capped at 108)."""
    folder = Path(tempfile.mkdtemp(prefix="sl-attack-"))
    try:
        with RawHttpServer(folder / "service.sock", routes) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)
