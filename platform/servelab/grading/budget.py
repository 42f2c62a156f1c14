"""The hidden suite's time budget: checks not started in time are not run; a running one stops.

The runner passes `--servelab-time-budget`, a little under the suite's wall clock (the
container is killed at the wall clock). Each request's deadline is cut to what is left (see
guarded_http); a check stuck in CPU work (e.g. Hypothesis generating from a pathological
schema) is stopped by SIGALRM raising `OutOfTime` at the budget's end.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

# Once the budget is over, the alarm fires again at this interval until the check ends, so
# code that swallows the first OutOfTime (Hypothesis, a broad `except BaseException`) stops too.
_REFIRE_SECONDS = 0.2


class OutOfTime(BaseException):
    """The suite's time budget ended while this check ran.

    A BaseException, so that a grader's `except Exception` does not swallow it.
    """


class TimeBudget:
    """Seconds the suite may spend, counted from when the plugin was configured."""

    def __init__(self, seconds: float | None, *, started: float | None = None) -> None:
        if seconds is not None and seconds <= 0:
            raise ValueError("the time budget must be a positive number of seconds")
        self.seconds = seconds
        start = time.monotonic() if started is None else started
        self.ends = math.inf if seconds is None else start + seconds

    def left(self) -> float:
        """Seconds left (math.inf without a budget; 0 or less once it is spent)."""
        return self.ends - time.monotonic()

    @property
    def spent(self) -> bool:
        return self.left() <= 0


class CheckGuard:
    """Arms an alarm at the budget's end while a check's setup or call runs.

    Only in the main thread (signals are delivered there) and only inside a phase, so the
    exception lands where pytest reports it as the check's failure, never in pytest's own code.
    `on_fire` is told first (the plugin marks the running check as stopped for time).
    """

    def __init__(self, budget: TimeBudget, on_fire: Callable[[], None]) -> None:
        self.budget = budget
        self.on_fire = on_fire
        self._armed = False

    @contextmanager
    def phase(self) -> Iterator[None]:
        if self.budget.seconds is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        left = self.budget.left()
        if left <= 0:
            self.on_fire()
            raise OutOfTime("the suite's time budget ended before this step of the check")
        previous = signal.signal(signal.SIGALRM, self._fire)
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, left, _REFIRE_SECONDS)
        try:
            yield
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        if not self._armed:
            return
        self.on_fire()
        raise OutOfTime("the suite's time budget ended while this check was running")
