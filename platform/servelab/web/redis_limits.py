"""The web processes' shared limits in Redis: the login throttle's windows and the live
stream slots, counted once for every process and host that uses the same Redis.

Each operation is one Lua script, so two processes never both take the last slot or both
miss each other's failure. Every key expires on its own (a window's length, a stream's
longest life), so a process that dies holding a slot frees it within `lease_seconds`, and
unique emails cannot fill Redis. Clocks are the web hosts' wall clocks (keep them on NTP).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Annotated

import redis
from fastapi import Depends, Request

from servelab.accounts.security import token_digest
from servelab.accounts.throttle import CounterFactory, WindowCounter
from servelab.web.streams import Release, StreamRefused, refused_for_total, refused_for_user

log = logging.getLogger("servelab.limits")
PREFIX = "servelab:"

# KEYS[1] the window; ARGV now, window seconds, limit, a unique member.
_ADD = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(limit + 1))
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
"""
# The stamp `limit` failures back when the key is at its limit, else nothing.
_AT_LIMIT_SINCE = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then return false end
return redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')[2]
"""
# KEYS[1] the user's slots, KEYS[2] everyone's; ARGV now, lease, per user, total, member.
# Returns 0 when taken, 1 when the user has their share, 2 when the total is reached.
_ACQUIRE = """
local now, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do redis.call('ZREMRANGEBYSCORE', key, '-inf', now) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[5])
  redis.call('PEXPIRE', key, math.ceil(lease * 1000))
end
return 0
"""
_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
return redis.call('ZCARD', KEYS[1])
"""


class LimitsUnavailable(Exception):
    """Redis, where the shared limits are counted, does not answer: refuse, never guess."""

    message = (
        "ServeLab cannot check login attempts right now (its shared limits store does not "
        "answer). Nothing was changed; try again in a minute."
    )
    retry_after_seconds = 30


def redis_client(url: str) -> redis.Redis:
    """A client with short timeouts: a limit check waits seconds at most, never forever."""
    return redis.Redis.from_url(
        url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )


def get_limits_store(request: Request) -> redis.Redis | None:
    """The app's Redis client for the shared limits; None when they are kept in memory."""
    return getattr(request.app.state, "limits_store", None)


LimitsStoreDep = Annotated[redis.Redis | None, Depends(get_limits_store)]


class RedisWindowCounter:
    """A `WindowCounter` in Redis: one sorted set of failure times per key."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        name: str,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._name = name
        self._clock = clock
        self._client = client
        self._add = client.register_script(_ADD)
        self._at_limit_since = client.register_script(_AT_LIMIT_SINCE)

    def _key(self, key: str) -> str:
        # Hashed: emails and addresses are not stored in Redis, and every key is short.
        return f"{PREFIX}login:{self._name}:{token_digest(key)[:32]}"

    def retry_after(self, key: str) -> int | None:
        now = self._clock()
        try:
            since = self._at_limit_since(
                keys=[self._key(key)], args=[now, self.window_seconds, self.limit]
            )
        except redis.RedisError as exc:
            raise LimitsUnavailable() from exc
        if since is None:
            return None
        return max(1, int(float(since) + self.window_seconds - now) + 1)

    def add(self, key: str) -> None:
        now = self._clock()
        member = f"{now!r}:{secrets.token_hex(4)}"  # two failures in one instant count twice
        try:
            self._add(keys=[self._key(key)], args=[now, self.window_seconds, self.limit, member])
        except redis.RedisError as exc:
            raise LimitsUnavailable() from exc

    def clear(self, key: str) -> None:
        try:
            self._client.delete(self._key(key))
        except redis.RedisError as exc:
            raise LimitsUnavailable() from exc


def redis_counters(client: redis.Redis, clock: Callable[[], float] = time.time) -> CounterFactory:
    """The login throttle's `CounterFactory` for windows in Redis."""

    def make(*, name: str, limit: int, window_seconds: float) -> WindowCounter:
        return RedisWindowCounter(
            client, name=name, limit=limit, window_seconds=window_seconds, clock=clock
        )

    return make


class RedisStreamSlots:
    """`StreamSlots` in Redis: a slot is a member with an expiry time in two sorted sets,
    the user's and everyone's; a slot not given back expires after `lease_seconds`."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        per_user: int,
        total: int,
        lease_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_user = per_user
        self.total = total
        self.lease_seconds = lease_seconds
        self._client = client
        self._clock = clock
        self._acquire = client.register_script(_ACQUIRE)
        self._open = client.register_script(_OPEN)

    @staticmethod
    def _user_key(user_id: int) -> str:
        return f"{PREFIX}streams:user:{user_id}"

    _TOTAL_KEY = f"{PREFIX}streams:all"

    def acquire(self, user_id: int) -> StreamRefused | Release:
        slot = secrets.token_hex(8)
        keys = [self._user_key(user_id), self._TOTAL_KEY]
        try:
            taken = self._acquire(
                keys=keys,
                args=[self._clock(), self.lease_seconds, self.per_user, self.total, slot],
            )
        except redis.RedisError:
            log.exception("the stream slots in Redis do not answer")
            return StreamRefused(
                "Live progress is not available right now. This page refreshes by itself "
                "instead; nothing is lost.",
                retry_after=30,
            )
        if taken == 1:
            return refused_for_user(self.per_user)
        if taken == 2:
            return refused_for_total()
        return Release(lambda: self._give_back(keys, slot))

    def _give_back(self, keys: list[str], slot: str) -> None:
        try:
            for key in keys:
                self._client.zrem(key, slot)
        except redis.RedisError:  # the slot expires by itself after its lease
            log.warning("could not give a stream slot back to Redis; it expires by itself")

    def open_streams(self, user_id: int | None = None) -> int:
        key = self._user_key(user_id) if user_id is not None else self._TOTAL_KEY
        return int(self._open(keys=[key], args=[self._clock()]))
