"""Capped capture of a container's output: keep the head and the tail, count what was cut."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import docker
from docker.models.containers import Container
from docker.utils.socket import STDERR, frames_iter

from servelab.grading.truncate import mark_cut


class CappedOutput:
    """Thread-safe sink that keeps the first and last `limit // 2` bytes of a stream."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 2
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0
        self._lock = threading.Lock()

    @property
    def total_bytes(self) -> int:
        return self._total

    def write(self, chunk: bytes) -> None:
        with self._lock:
            self._total += len(chunk)
            room = self._head_limit - len(self._head)
            if room > 0:
                self._head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self._tail += chunk
                if len(self._tail) > self._tail_limit:
                    del self._tail[: len(self._tail) - self._tail_limit]

    def consume(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def text(self) -> str:
        """The kept output as text, with a marker saying how many bytes were cut in between."""
        with self._lock:
            head, tail, total = bytes(self._head), bytes(self._tail), self._total
        cut = total - len(head) - len(tail)
        if cut <= 0:
            return (head + tail).decode("utf-8", errors="replace")
        return mark_cut(
            head.decode("utf-8", errors="replace"),
            tail.decode("utf-8", errors="replace"),
            f"{cut} bytes cut",
        )


def attach_output(
    client: docker.DockerClient,
    container: Container,
    limit: int,
    *,
    stderr: CappedOutput | None = None,
) -> tuple[CappedOutput, threading.Thread]:
    """Attach to a created container's stdout+stderr and pump them into a CappedOutput.

    Attach before start, and nothing is missed; the reader never stalls the container, and the
    container's logging driver can be "none", so a flood never reaches the disk. With `stderr`,
    the container's stderr goes there instead, kept apart from its stdout (a lesson's example
    is compared on its stdout alone).
    """
    capture = CappedOutput(limit)
    params = {"stdout": 1, "stderr": 1, "stream": 1, "logs": 0}
    sock = client.api.attach_socket(container.id, params=params)
    for candidate in (sock, getattr(sock, "_sock", None)):
        if candidate is not None and hasattr(candidate, "settimeout"):
            candidate.settimeout(None)  # an idle service must not time the stream out

    def pump() -> None:
        try:
            for stream, data in frames_iter(sock, tty=False):
                sink = stderr if stderr is not None and stream == STDERR else capture
                sink.write(data)
        except (OSError, ValueError):
            pass  # the container went away mid-frame; what was read is kept
        finally:
            sock.close()

    reader = threading.Thread(target=pump, name=f"output-{container.short_id}", daemon=True)
    reader.start()
    return capture, reader
