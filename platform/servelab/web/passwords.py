"""Routes that hash or check a password run that work through one gate.

`accounts.security.hash_slots` bounds the hashes running at once for the whole process.
This gate puts the *waiting* in the event loop: a request queued behind other logins holds
no worker thread and no database connection, so a burst of logins cannot starve the other
routes of threads. After `password_hash_wait_seconds` in the queue a request gets a 503.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from servelab.accounts.security import PasswordHashingBusy
from servelab.settings import Settings

T = TypeVar("T")


class PasswordGate:
    """At most `slots` password jobs in worker threads; the rest wait here, for a bounded time."""

    def __init__(self, *, slots: int, wait_seconds: float) -> None:
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore: anyio.Semaphore | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordGate:
        return cls(
            slots=settings.password_hash_slots, wait_seconds=settings.password_hash_wait_seconds
        )

    async def run(self, work: Callable[[], T]) -> T:
        """Run `work` (which hashes or verifies) in a thread once a slot is free."""
        if self._semaphore is None:  # created in the event loop that uses it
            self._semaphore = anyio.Semaphore(self.slots)
        semaphore = self._semaphore
        acquired = False
        with anyio.move_on_after(self.wait_seconds):  # bounds the wait, never the work
            await semaphore.acquire()
            acquired = True
        if not acquired:
            raise PasswordHashingBusy()
        try:
            return await run_in_threadpool(work)
        finally:
            semaphore.release()


def get_password_gate(request: Request) -> PasswordGate:
    return request.app.state.password_gate


PasswordGateDep = Annotated[PasswordGate, Depends(get_password_gate)]
