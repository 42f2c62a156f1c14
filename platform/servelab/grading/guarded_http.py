"""The hidden suite's HTTP client for a learner's service: bounded in time, bytes and headers.

A learner's service is hostile. httpx on its own times out per read (a service that drips a
byte a second, or sends endless `100 Continue` lines, never trips it), decodes gzip without a
limit (2.5 KB of gzip of gzip inflates to 1 GiB) and keeps every cookie it is sent. Here:

- every request has a total deadline: a network backend for httpcore bounds each socket
  operation by min(its own timeout, the time left before the request's deadline)
  (http_deadline);
- the grader asks for `Accept-Encoding: identity`; gzip or deflate sent anyway is decoded by
  a streaming decoder capped at the body limit, counted after every layer (http_decoding),
  anything else is refused; httpx never sees a Content-Encoding, so never decodes on its own;
- response headers are bounded in count and size, Set-Cookie headers are dropped;
- after repeated timeouts, requests fail at once (a hung service costs two deadlines, not one
  per remaining request).

Exception messages never quote the service (grader code may show them to learners).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore
import httpx

from servelab.grading.http_deadline import DeadlineBackend, DeadlinePassed
from servelab.grading.http_decoding import (
    EncodingRefused,
    ResponseTooLarge,
    inflate,
    too_large_message,
)

__all__ = [
    "DeadlineExceeded",
    "EncodingRefused",
    "GuardedTransport",
    "HeadersTooLarge",
    "Problem",
    "ResponseTooLarge",
    "ServiceLimits",
    "service_client",
]


class Problem(StrEnum):
    """What a service did to a request; the plugin explains it to the learner."""

    TIMED_OUT = "timed_out"  # no byte within the per-read timeout, or the breaker is open
    DEADLINE = "deadline"  # bytes kept coming, too slowly: the request's deadline passed
    OUT_OF_TIME = "out_of_time"  # the suite's time budget ran out during the request
    TOO_LARGE = "too_large"  # the body was over the limit (counted after decoding)
    ENCODING = "encoding"  # a content encoding the grader does not decode
    HEADERS = "headers"  # too many or too large response headers
    UNREACHABLE = "unreachable"  # could not connect, or the connection broke


@dataclass(frozen=True)
class ServiceLimits:
    deadline_seconds: float = 10.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_headers: int = 100
    max_header_bytes: int = 64 * 1024
    max_timeouts_in_a_row: int = 2
    max_encoding_layers: int = 4


class DeadlineExceeded(httpx.ReadTimeout):
    """The request's total deadline passed (the answer came too slowly, or never ended)."""


class HeadersTooLarge(httpx.RemoteProtocolError):
    """The response had too many or too large headers."""


_DECODED = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
_NAMED = {"br", "zstd", "compress", "x-compress"}  # known names we may quote in messages


# --- mapping httpcore's errors to httpx's, noting what the service did -------------------

# Both libraries name their errors alike; most specific first (isinstance picks the first).
_SHARED_ERROR_NAMES = (
    "ConnectTimeout ReadTimeout WriteTimeout PoolTimeout TimeoutException ConnectError "
    "ReadError WriteError NetworkError RemoteProtocolError LocalProtocolError "
    "UnsupportedProtocol ProtocolError"
).split()
_HTTPCORE_TO_HTTPX: list[tuple[type[Exception], type[httpx.TransportError]]] = [
    (getattr(httpcore, name), getattr(httpx, name)) for name in _SHARED_ERROR_NAMES
]


class _Session:
    """State shared by the transport and its response bodies: problems and the breaker."""

    def __init__(
        self,
        limits: ServiceLimits,
        on_problem: Callable[[Problem], None],
        backend: DeadlineBackend,
    ) -> None:
        self.limits = limits
        self.backend = backend
        self.on_problem = on_problem
        self.timeouts_in_a_row = 0

    def translate(self, exc: Exception) -> httpx.HTTPError:
        """The httpx error for an httpcore one (or any other), with its problem noted."""
        if isinstance(exc, DeadlinePassed):
            self.timeouts_in_a_row += 1
            if self.backend.deadline.by_budget:
                self.on_problem(Problem.OUT_OF_TIME)
                return DeadlineExceeded("the suite's time budget ended during the request")
            if self.backend.deadline.received == 0:
                self.on_problem(Problem.TIMED_OUT)
                return httpx.ReadTimeout("the service did not answer within the deadline")
            self.on_problem(Problem.DEADLINE)
            return DeadlineExceeded("the service did not finish answering within the deadline")
        if isinstance(exc, httpcore.TimeoutException):
            self.timeouts_in_a_row += 1
            self.on_problem(Problem.TIMED_OUT)
        elif isinstance(exc, httpcore.RemoteProtocolError) and "too long" in str(exc):
            self.on_problem(Problem.HEADERS)  # h11's limit on one incomplete event (100 KB)
            return HeadersTooLarge("the service sent response headers over h11's size limit")
        elif isinstance(exc, httpcore.NetworkError | httpcore.RemoteProtocolError):
            self.on_problem(Problem.UNREACHABLE)
        # h11 quotes the offending bytes in protocol errors: never pass them on
        message = (
            "the service's answer was cut off or was not valid HTTP"
            if isinstance(exc, httpcore.ProtocolError)
            else str(exc)
        )
        for core, mapped in _HTTPCORE_TO_HTTPX:
            if isinstance(exc, core):
                return mapped(message)
        return httpx.TransportError(message)


# --- response bodies: deadline, decoding, cap ---------------------------------------------


class _GuardedBody(httpx.SyncByteStream):
    def __init__(
        self,
        core: Any,
        *,
        session: _Session,
        deadline: float,
        by_budget: bool,
        encodings: list[str],
    ) -> None:
        self._core = core
        self._session = session
        self._deadline = deadline
        self._by_budget = by_budget
        self._encodings = encodings

    def _raw(self) -> Iterator[bytes]:
        chunks = iter(self._core)
        while True:
            self._session.backend.set_deadline(
                self._deadline, by_budget=self._by_budget, new_request=False
            )
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except Exception as exc:
                raise self._session.translate(exc) from exc
            yield chunk

    def __iter__(self) -> Iterator[bytes]:
        limit = self._session.limits.max_body_bytes
        stream = self._raw()
        layers = list(reversed(self._encodings))  # the last encoding applied is undone first
        for index, encoding in enumerate(layers):
            inner = index < len(layers) - 1  # may legitimately be a little over the limit
            stream = inflate(stream, encoding, limit + limit // 50 + 65536 if inner else limit)
        seen = 0
        try:
            for chunk in stream:
                seen += len(chunk)
                if seen > limit:
                    raise ResponseTooLarge(too_large_message(limit, decoded=bool(layers)))
                yield chunk
        except ResponseTooLarge:
            self._session.on_problem(Problem.TOO_LARGE)
            raise
        except EncodingRefused:
            self._session.on_problem(Problem.ENCODING)
            raise
        self._session.timeouts_in_a_row = 0  # a whole answer arrived in time

    def close(self) -> None:
        self._core.close()


# --- the transport ----------------------------------------------------------------------


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport to one service (Unix socket or TCP) with the guard rails above.

    `time_left()` is what remains of the suite's time budget (math.inf without one): each
    request's deadline is min(limits.deadline_seconds, time_left()).
    """

    def __init__(
        self,
        *,
        uds: str | None = None,
        limits: ServiceLimits | None = None,
        time_left: Callable[[], float] = lambda: math.inf,
        on_problem: Callable[[Problem], None] = lambda problem: None,
    ) -> None:
        self._limits = limits or ServiceLimits()
        self._backend = DeadlineBackend()
        self._session = _Session(self._limits, on_problem, self._backend)
        self._time_left = time_left
        self._pool = httpcore.ConnectionPool(
            max_connections=10,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            uds=uds,
            network_backend=self._backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        session, limits = self._session, self._limits
        if session.timeouts_in_a_row >= limits.max_timeouts_in_a_row:
            session.on_problem(Problem.TIMED_OUT)
            raise httpx.ReadTimeout(
                "the service stopped answering (it timed out repeatedly); not waiting again",
                request=request,
            )
        budget = self._time_left()
        if budget <= 0:
            session.on_problem(Problem.OUT_OF_TIME)
            raise DeadlineExceeded("the suite's time budget is used up", request=request)
        seconds = min(limits.deadline_seconds, budget)
        deadline, by_budget = time.monotonic() + seconds, seconds < limits.deadline_seconds
        self._backend.set_deadline(deadline, by_budget=by_budget, new_request=True)
        request.headers["Accept-Encoding"] = "identity"
        timeouts = {
            key: seconds if value is None else min(value, seconds)
            for key, value in request.extensions.get("timeout", {}).items()
        }
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,  # type: ignore[arg-type]
            extensions={**request.extensions, "timeout": timeouts},
        )
        try:
            core = self._pool.handle_request(core_request)
        except Exception as exc:
            raise session.translate(exc) from exc
        try:
            headers, encodings = self._checked_headers(core.headers)
        except httpx.HTTPError:
            core.close()
            raise
        return httpx.Response(
            status_code=core.status,
            headers=headers,
            stream=_GuardedBody(
                core.stream,
                session=session,
                deadline=deadline,
                by_budget=by_budget,
                encodings=encodings,
            ),
            extensions=core.extensions,
            request=request,
        )

    def _checked_headers(
        self, raw: list[tuple[bytes, bytes]]
    ) -> tuple[list[tuple[bytes, bytes]], list[str]]:
        """Headers httpx may see (no cookies, no encodings) and the encodings to undo."""
        limits = self._limits
        size = sum(len(name) + len(value) for name, value in raw)
        if len(raw) > limits.max_headers or size > limits.max_header_bytes:
            self._session.on_problem(Problem.HEADERS)
            raise HeadersTooLarge(
                f"the service sent {len(raw)} response headers ({size} bytes); the grader "
                f"accepts at most {limits.max_headers} headers of {limits.max_header_bytes} bytes"
            )
        kept: list[tuple[bytes, bytes]] = []
        encodings: list[str] = []
        length: tuple[bytes, bytes] | None = None
        for name, value in raw:
            lower = name.lower()
            if lower == b"set-cookie":
                continue
            if lower == b"content-encoding":
                text = value.decode("latin-1").lower()
                encodings += [
                    e.strip() for e in text.split(",") if e.strip() not in ("", "identity")
                ]
                continue
            if lower == b"content-length":
                length = (name, value)
                continue
            kept.append((name, value))
        self._check_encodings(encodings)
        if length is not None and not encodings:
            if length[1].strip().isdigit() and int(length[1]) > limits.max_body_bytes:
                self._session.on_problem(Problem.TOO_LARGE)
                raise ResponseTooLarge(too_large_message(limits.max_body_bytes, decoded=False))
            kept.append(length)
        return kept, [_DECODED[e] for e in encodings]

    def _check_encodings(self, encodings: list[str]) -> None:
        unknown = [e for e in encodings if e not in _DECODED]
        if not unknown and len(encodings) <= self._limits.max_encoding_layers:
            return
        self._session.on_problem(Problem.ENCODING)
        if unknown:
            named = ", ".join(e if e in _NAMED else "an unknown encoding" for e in unknown)
            raise EncodingRefused(
                f"the service answered with Content-Encoding {named}, which the grader does not "
                "decode (it asks for Accept-Encoding: identity)"
            )
        raise EncodingRefused(
            f"the service compressed its answer {len(encodings)} times; the grader decodes at "
            f"most {self._limits.max_encoding_layers} layers"
        )

    def close(self) -> None:
        self._pool.close()


class _NoCookies(DefaultCookiePolicy):
    """A cookie policy that neither keeps nor sends a cookie."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


def service_client(
    *,
    uds: str | None = None,
    base_url: str = "http://service",
    limits: ServiceLimits | None = None,
    time_left: Callable[[], float] = lambda: math.inf,
    on_problem: Callable[[Problem], None] = lambda problem: None,
) -> httpx.Client:
    """An httpx.Client for a learner's service (a Unix socket, or a TCP base_url)."""
    limits = limits or ServiceLimits()
    transport = GuardedTransport(uds=uds, limits=limits, time_left=time_left, on_problem=on_problem)
    return httpx.Client(
        transport=transport,
        base_url=base_url,
        timeout=httpx.Timeout(limits.deadline_seconds),
        cookies=CookieJar(policy=_NoCookies()),
        follow_redirects=False,
        trust_env=False,
    )
