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
from typing import Any

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


class TimeLimitReached(BaseException):
    """A `time_limit()` block ran out of its seconds (a BaseException, like OutOfTime)."""


class CheckGuard:
    """The one owner of SIGALRM in the suite: the budget's end while a check's setup or call
    runs, and any `time_limit()` block inside it, each raising its own exception.

    Only in the main thread (signals are delivered there) and only inside a phase or block, so
    the exception lands where pytest reports it as the check's failure, never in pytest's own
    code. `on_fire` is told first when the budget ends (the plugin marks the check stopped).
    """

    def __init__(self, budget: TimeBudget, on_fire: Callable[[], None]) -> None:
        self.budget = budget
        self.on_fire = on_fire
        self._in_phase = False
        self._limits: list[float] = []  # deadlines of open time_limit() blocks, innermost last
        self._previous: Any = None

    @contextmanager
    def phase(self) -> Iterator[None]:
        if self.budget.seconds is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        if self.budget.left() <= 0:
            self.on_fire()
            raise OutOfTime("the suite's time budget ended before this step of the check")
        self._in_phase = True
        self._arm()
        try:
            yield
        finally:
            self._in_phase = False
            self._arm()

    @contextmanager
    def limit(self, seconds: float) -> Iterator[None]:
        """Stop the block with TimeLimitReached after `seconds` (or OutOfTime, if the budget
        ends first): for grader work the service can make endless, e.g. case generation."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("time_limit() works only in the main thread, where checks run")
        deadline = time.monotonic() + seconds
        self._limits.append(deadline)
        self._arm()
        try:
            yield
        finally:
            self._limits.remove(deadline)
            self._arm()

    def _watched(self) -> list[float]:
        watched = list(self._limits)
        if self._in_phase:
            watched.append(self.budget.ends)
        return watched

    def _arm(self) -> None:
        """Point the timer at the nearest deadline (re-firing once past it), or disarm it."""
        watched = self._watched()
        if not watched:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if self._previous is not None:
                signal.signal(signal.SIGALRM, self._previous)
                self._previous = None
            return
        if self._previous is None:
            self._previous = signal.signal(signal.SIGALRM, self._fire)
        left = max(min(watched) - time.monotonic(), 0.001)
        signal.setitimer(signal.ITIMER_REAL, left, _REFIRE_SECONDS)

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._in_phase and self.budget.ends <= now:
            self.on_fire()
            raise OutOfTime("the suite's time budget ended while this check was running")
        if any(deadline <= now for deadline in self._limits):
            raise TimeLimitReached("a time_limit() block ran out of time")
        self._arm()  # fired early (a re-fire before any deadline): wait for the nearest one
