"""A throwaway Redis for tests: Debian's redis-server on a free loopback port, no disk.

`RedisServer` is one a test can stop and start again on the same port (a restart loses every
message: the hardest case for "none lost"). The session's shared Redis (`redis_url` in
tests/conftest.py) is `redis_server()`; SERVELAB_TEST_REDIS_URL names a server that already runs
(a CI service) instead. A missing redis-server fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from live_server import free_port
from support import require_service

REDIS_SERVER = shutil.which("redis-server")


class RedisServer:
    """A redis-server on loopback without persistence, its log in `base`."""

    def __init__(self, base: Path) -> None:
        require_service(REDIS_SERVER is not None, "redis-server (Debian package redis-server)")
        self.base = base
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._ever_started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on `self.port`; a port taken meanwhile (tests run in parallel) moves it to
        another free one the first time, never to someone else's Redis answering there."""
        for attempt in range(5):
            if self._start_once():
                return
            if self.process is not None:
                self.process.wait(timeout=10)
                self.process = None
            if attempt == 0 and self._ever_started:
                break  # a restart must keep its port: its clients know only that one
            self.port = free_port()
        raise RuntimeError(f"redis-server did not start (last port {self.port})")

    def _start_once(self) -> bool:
        assert REDIS_SERVER is not None
        self.base.mkdir(parents=True, exist_ok=True)
        command = [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.base), "--logfile", "redis.log"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        try:
            while self.process.poll() is None and time.monotonic() < deadline:
                try:
                    # Ours, not another test's server that holds the port.
                    if client.info("server")["process_id"] == self.process.pid:
                        self._ever_started = True
                        return True
                except redis.ConnectionError:
                    pass
                time.sleep(0.05)
            if self.process.poll() is None:
                self.process.kill()
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def queued_messages(self, queue_name: str) -> int:
        """How many messages wait in the list `queue_name` (a Celery queue)."""
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.llen(queue_name))
        finally:
            client.close()


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A running Redis until the block ends, as a URL (SERVELAB_TEST_REDIS_URL: that one)."""
    if url := os.environ.get("SERVELAB_TEST_REDIS_URL"):
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    server = RedisServer(folder)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
