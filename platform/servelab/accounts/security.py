"""Password hashing (Argon2id) and random tokens stored only as hashes.

Argon2id takes 64 MiB and a CPU core for a tenth of a second per hash, so the number of
hashes running at once is bounded process-wide (`hash_slots`): without a bound, two dozen
concurrent logins cost a gigabyte. A caller that cannot get a slot within the wait gets
`PasswordHashingBusy` (the web app answers 503 with Retry-After).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


class PasswordHashingBusy(RuntimeError):
    """Every hashing slot stayed taken for the whole wait."""

    retry_after_seconds = 5
    message = "ServeLab is busy checking other passwords. Try again in a few seconds."


class HashSlots:
    """A bounded number of concurrent password hashes, with a bounded wait for a slot."""

    def __init__(self, slots: int, wait_seconds: float) -> None:
        self.configure(slots=slots, wait_seconds=wait_seconds)

    def configure(self, *, slots: int, wait_seconds: float) -> None:
        """Resize (the app does this from its settings); hashes in flight finish on the old size."""
        self.slots = slots
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        semaphore = self._semaphore
        if not semaphore.acquire(timeout=self.wait_seconds):
            raise PasswordHashingBusy()
        try:
            yield
        finally:
            semaphore.release()


hash_slots = HashSlots(slots=os.cpu_count() or 1, wait_seconds=10.0)


def hash_password(password: str) -> str:
    with hash_slots.slot():
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with hash_slots.slot():
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str = "") -> str:
    """A URL-safe random token with 256 bits of entropy."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """SHA-256 hex of a high-entropy token (no salt needed: tokens are random, not chosen)."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def sign(secret_key: str, value: str) -> str:
    """`value.mac`: an HMAC-SHA256 of value under the app's secret key (for cookies)."""
    mac = hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def unsign(secret_key: str, signed: str) -> str | None:
    """The value of a `sign`ed string, or None when its MAC does not match."""
    value, _, mac = signed.rpartition(".")
    if not value or not constant_time_equals(sign(secret_key, value), signed):
        return None
    return value
