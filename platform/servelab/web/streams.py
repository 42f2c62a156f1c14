"""A bounded number of live event streams, per person and in total.

Each open stream is a task that polls the database every half second for as long as the
page stays open (up to half an hour), so streams are capped: a person past their share,
or anyone once the app serves its total, gets a 429 and the page falls back to refreshing
itself (it works without JavaScript too).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


@dataclass(frozen=True)
class StreamRefused:
    message: str
    retry_after: int = 10


class StreamSlots:
    """Counts open streams per user and in total; `acquire` returns a release callback."""

    def __init__(self, *, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._open: Counter[int] = Counter()
        self._total = 0
        self._lock = threading.Lock()

    def acquire(self, user_id: int) -> StreamRefused | Release:
        with self._lock:
            if self._open[user_id] >= self.per_user:
                return StreamRefused(
                    f"You already have {self.per_user} live progress views open, the most "
                    "ServeLab keeps for one person. Close one of those tabs; this page still "
                    "refreshes by itself."
                )
            if self._total >= self.total:
                return StreamRefused(
                    "ServeLab is showing live progress to many people right now. This page "
                    "refreshes by itself instead; nothing is lost."
                )
            self._open[user_id] += 1
            self._total += 1
        return Release(self, user_id)

    def open_streams(self, user_id: int | None = None) -> int:
        with self._lock:
            return self._open[user_id] if user_id is not None else self._total

    def release(self, user_id: int) -> None:
        with self._lock:
            self._total -= 1
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]


class Release:
    """Gives a stream's slot back; calling it again does nothing."""

    def __init__(self, slots: StreamSlots, user_id: int) -> None:
        self._slots = slots
        self._user_id = user_id
        self._done = False

    def __call__(self) -> None:
        if not self._done:
            self._done = True
            self._slots.release(self._user_id)


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
            self._release()
