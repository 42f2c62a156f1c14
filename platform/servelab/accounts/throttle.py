"""Failed-login throttling that slows guessing without locking the owner out.

Failures are counted in three sliding windows (OWASP's "device cookies" pattern):

- per account *and* client address (or per account and known browser, see below): the
  tight limit. An attacker's failures from one address pause that address only, so the
  owner can still log in from anywhere else;
- per client address, over all accounts: one address guessing at many accounts;
- per account, over all unknown browsers: many addresses guessing at one account.

A browser that has logged in to an account before carries a signed device cookie
(`devices.py`); its failures are counted for that browser alone and none of the other
pauses apply to it, so a distributed attack on an account does not lock its owner out.

The windows are `WindowCounter`s. The zero-configuration default keeps them in memory per
process (`SlidingWindowCounter`): enough for one web process; a restart only forgets recent
failures, and the number of keys is bounded, so unique emails cannot grow it forever. With
several web processes they live in Redis instead (`web/redis_limits.py`), so a guesser gets
the same number of tries however the requests are spread over processes and hosts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

MAX_KEYS = 100_000


class WindowCounter(Protocol):
    """Events per key within a sliding window; past `limit` events, the key must wait."""

    limit: int

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None when it may try now."""
        ...

    def add(self, key: str) -> None: ...

    def clear(self, key: str) -> None: ...


class CounterFactory(Protocol):
    """Makes the counter of one window (`name` tells the windows apart in a shared store)."""

    def __call__(self, *, name: str, limit: int, window_seconds: float) -> WindowCounter: ...


class SlidingWindowCounter:
    """A `WindowCounter` in this process's memory, with at most `max_keys` keys."""

    def __init__(
        self,
        *,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Seconds until `key` may try again, or None when it may try now."""
        with self._lock:
            recent = self._recent(key)
            if len(recent) < self.limit:
                return None
            return max(1, int(recent[-self.limit] + self.window_seconds - self._clock()) + 1)

    def add(self, key: str) -> None:
        with self._lock:
            stamps = self._events.pop(key, None) or deque()
            self._prune(stamps)
            stamps.append(self._clock())
            while len(stamps) > self.limit:  # older stamps no longer change the answer
                stamps.popleft()
            self._events[key] = stamps  # most recently failed keys last
            while len(self._events) > self._max_keys:
                self._events.popitem(last=False)

    def clear(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)

    def __len__(self) -> int:
        return len(self._events)

    def _prune(self, stamps: deque[float]) -> None:
        cutoff = self._clock() - self.window_seconds
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()

    def _recent(self, key: str) -> deque[float]:
        stamps = self._events.get(key)
        if stamps is None:
            return deque()
        self._prune(stamps)
        if not stamps:
            del self._events[key]
        return stamps


@dataclass(frozen=True)
class LoginAttempt:
    """Who is trying: the account (normalized email), the client address, and the
    device id from a valid device cookie for this account (None for an unknown browser)."""

    account: str
    address: str
    device: str | None = None


class PauseReason(StrEnum):
    DEVICE = "device"  # too many failures from this known browser
    PAIR = "pair"  # too many failures on this account from this address
    ADDRESS = "address"  # too many failures from this address, over all accounts
    ACCOUNT = "account"  # too many failures on this account from unknown browsers


@dataclass(frozen=True)
class Pause:
    """Logins of this attempt wait `retry_after` seconds; `reason` says which limit."""

    retry_after: int
    reason: PauseReason


class LoginThrottle:
    """The three windows of the module docstring, checked before a password is hashed."""

    def __init__(
        self,
        *,
        max_failures: int,
        max_failures_per_address: int,
        max_failures_per_account: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        counters: CounterFactory | None = None,
    ) -> None:
        def in_memory(*, name: str, limit: int, window_seconds: float) -> WindowCounter:
            return SlidingWindowCounter(limit=limit, window_seconds=window_seconds, clock=clock)

        make = counters or in_memory
        self.pair = make(name="pair", limit=max_failures, window_seconds=window_seconds)
        self.address = make(
            name="address", limit=max_failures_per_address, window_seconds=window_seconds
        )
        self.account = make(
            name="account", limit=max_failures_per_account, window_seconds=window_seconds
        )

    def pause(self, attempt: LoginAttempt) -> Pause | None:
        """The pause that applies to this attempt now, or None when it may go ahead."""
        if attempt.device is not None:
            wait = self.pair.retry_after(_device_key(attempt))
            return Pause(wait, PauseReason.DEVICE) if wait else None
        checks = (
            (self.pair, _pair_key(attempt), PauseReason.PAIR),
            (self.address, attempt.address, PauseReason.ADDRESS),
            (self.account, attempt.account, PauseReason.ACCOUNT),
        )
        for counter, key, reason in checks:
            wait = counter.retry_after(key)
            if wait:
                return Pause(wait, reason)
        return None

    def failed(self, attempt: LoginAttempt) -> None:
        if attempt.device is not None:
            self.pair.add(_device_key(attempt))
            return
        self.pair.add(_pair_key(attempt))
        self.address.add(attempt.address)
        self.account.add(attempt.account)

    def succeeded(self, attempt: LoginAttempt) -> None:
        """Forget this browser's or address's failures on the account; the address-wide and
        account-wide windows keep theirs, so one success does not reset an attack."""
        self.pair.clear(_device_key(attempt) if attempt.device else _pair_key(attempt))


def _pair_key(attempt: LoginAttempt) -> str:
    return f"{attempt.account}\n{attempt.address}"


def _device_key(attempt: LoginAttempt) -> str:
    return f"{attempt.account}\ndevice:{attempt.device}"
