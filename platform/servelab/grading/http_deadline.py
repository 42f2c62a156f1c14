"""An httpcore network backend whose every socket operation ends by the request's deadline.

httpx's timeouts bound each read; a service that drips a byte a second, or sends endless
`100 Continue` lines, never trips them. Here each connect, read and write waits at most
min(its own timeout, the time left before the calling thread's current deadline), which the
transport sets per request (guarded_http).
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpcore

_WRITE_STEP = 64 * 1024


class DeadlinePassed(httpcore.ReadTimeout):
    """The request's deadline passed during a socket operation."""

    pass


class _Deadline(threading.local):
    at: float = math.inf
    by_budget: bool = False  # the suite's time budget, not the request's own limit, set `at`
    received: int = 0  # bytes read for the current request (0: the service never answered)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, with each operation cut to the calling thread's deadline."""

    def __init__(self) -> None:
        self.deadline = _Deadline()

    def set_deadline(self, at: float, *, by_budget: bool, new_request: bool) -> None:
        """The calling thread's deadline, for a new request or for reading an answer's body."""
        self.deadline.at, self.deadline.by_budget = at, by_budget
        if new_request:
            self.deadline.received = 0

    def bound(self, timeout: float | None) -> tuple[float, bool]:
        """Seconds this operation may take, and whether the deadline (not `timeout`) set it."""
        left = self.deadline.at - time.monotonic()
        if left <= 0:
            raise DeadlinePassed("the request's deadline passed")
        if timeout is None or left <= timeout:
            return left, True
        return timeout, False

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        seconds, _ = self.bound(timeout)
        try:
            sock = socket.create_connection((host, port), seconds)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _DeadlineStream(sock, self)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        seconds, _ = self.bound(timeout)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(seconds)
            sock.connect(path)
        except TimeoutError as exc:
            sock.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return _DeadlineStream(sock, self)

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(0.0, self.deadline.at - time.monotonic())))


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, sock: socket.socket, backend: DeadlineBackend) -> None:
        self._sock = sock
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        seconds, by_deadline = self._backend.bound(timeout)
        try:
            self._sock.settimeout(seconds)
            data = self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise (DeadlinePassed if by_deadline else httpcore.ReadTimeout)(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc
        self._backend.deadline.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        while view:
            seconds, by_deadline = self._backend.bound(timeout)
            try:
                self._sock.settimeout(seconds)
                sent = self._sock.send(view[:_WRITE_STEP])
            except TimeoutError as exc:
                kind = DeadlinePassed if by_deadline else httpcore.WriteTimeout
                raise kind(str(exc)) from exc
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc
            view = view[sent:]

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        seconds, _ = self._backend.bound(timeout)
        try:
            self._sock.settimeout(seconds)
            wrapped = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return _DeadlineStream(wrapped, self._backend)

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._sock
        if info == "is_readable":  # an idle kept-alive connection the server closed
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            return bool(poller.poll(0))
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]
        return None
