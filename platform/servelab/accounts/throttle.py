"""Failed-login throttling: slows password guessing against one account."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """Counts failed logins per account in a sliding window; past the limit, logins wait.

    Kept in memory per process: enough for the embedded deployment, and a restart
    only forgets recent failures.
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None when it may try now."""
        with self._lock:
            recent = self._recent(key)
            if len(recent) < self.max_failures:
                return None
            return max(1, int(recent[0] + self.window_seconds - self._clock()) + 1)

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(self._clock())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        cutoff = self._clock() - self.window_seconds
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        return stamps
