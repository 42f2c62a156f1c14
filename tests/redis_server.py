"""A throwaway Redis for tests: Debian's redis-server on a free loopback port, no disk.

Import with `from redis_server import redis_server`. SERVELAB_TEST_REDIS_URL names a server
that already runs (a CI service) instead; a missing redis-server fails under CI=true.
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


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A running Redis until the block ends, as a URL; its log goes to `folder`."""
    if url := os.environ.get("SERVELAB_TEST_REDIS_URL"):
        redis.Redis.from_url(url).flushdb()
        yield url
        return
    binary = shutil.which("redis-server")
    require_service(binary is not None, "redis-server (Debian package redis-server)")
    assert binary is not None
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "redis.log")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
