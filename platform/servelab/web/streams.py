"""A bounded number of live event streams, per person and in total.

Each open stream is a task that polls the database every half second for as long as the
page stays open (up to half an hour), so streams are capped: a person past their share,
or anyone once the app serves its total, gets a 429 and the page falls back to refreshing
itself (it works without JavaScript too). Because the stream reads the database, it shows
progress whichever process or host grades the submission. With several web processes the
caps are counted in Redis (`web/redis_limits.py`), so they hold for the whole deployment.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import anyio
from fastapi import Depends, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

# A stream ends after this long even if the submission is still running (the page then
# refreshes by itself); a slot that is never given back expires a little after it.
SSE_MAX_SECONDS = 30 * 60
SLOT_LEASE_SECONDS = SSE_MAX_SECONDS + 60


@dataclass(frozen=True)
class StreamRefused:
    message: str
    retry_after: int = 10


def refused_for_user(per_user: int) -> StreamRefused:
    return StreamRefused(
        f"You already have {per_user} live progress views open, the most ServeLab keeps for "
        "one person. Close one of those tabs; this page still refreshes by itself."
    )


def refused_for_total() -> StreamRefused:
    return StreamRefused(
        "ServeLab is showing live progress to many people right now. This page refreshes by "
        "itself instead; nothing is lost."
    )


class Release:
    """Gives a stream's slot back; calling it again does nothing."""

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back = give_back
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            self._give_back()


class StreamSlots(Protocol):
    """Open streams per user and in total, for one process (`MemoryStreamSlots`) or for
    every web process sharing a Redis (`web/redis_limits.py` `RedisStreamSlots`)."""

    per_user: int
    total: int

    def acquire(self, user_id: int) -> StreamRefused | Release:
        """A slot (its release callback), or why none is free."""
        ...

    def open_streams(self, user_id: int | None = None) -> int: ...


class MemoryStreamSlots:
    """`StreamSlots` in this process's memory: the zero-configuration default."""

    def __init__(self, *, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._open: Counter[int] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def acquire(self, user_id: int) -> StreamRefused | Release:
        with self._lock:
            if self._open[user_id] >= self.per_user:
                return refused_for_user(self.per_user)
            if self._total >= self.total:
                return refused_for_total()
            self._open[user_id] += 1
            self._total += 1
        return Release(lambda: self._release(user_id))

    def open_streams(self, user_id: int | None = None) -> int:
        with self._lock:
            return self._open[user_id] if user_id is not None else self._total

    def _release(self, user_id: int) -> None:
        with self._lock:
            self._total -= 1
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]


def get_stream_slots(request: Request) -> StreamSlots:
    return request.app.state.stream_slots


StreamSlotsDep = Annotated[StreamSlots, Depends(get_stream_slots)]


class SlotStreamingResponse(StreamingResponse):
    """A stream that gives its slot back however it ends: done, timed out or disconnected."""

    def __init__(self, content: AsyncIterable[str], *, release: Release, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Off the event loop (a shared store is a network call), even when cancelled.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self._release)
