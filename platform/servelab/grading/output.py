"""Capped capture of a container's output: keep the head and the tail, count what was cut."""

from __future__ import annotations

import threading
from collections.abc import Iterable


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
        return (
            head.decode("utf-8", errors="replace")
            + f"\n[... {cut} bytes cut ...]\n"
            + tail.decode("utf-8", errors="replace")
        )
