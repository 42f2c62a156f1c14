"""ServeLab under a real uvicorn in a child process, for tests that measure what it costs.

The child is `python -m servelab serve` on a free loopback port, configured through the same
SERVELAB_* variables an operator uses; its memory is read from /proc/<pid>/status.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from servelab.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@dataclass(frozen=True)
class ServerProcess:
    url: str
    pid: int
    log: Path

    def rss_mib(self) -> float:
        """Resident memory now."""
        return _status_kib(self.pid, "VmRSS") / 1024

    def peak_rss_mib(self) -> float:
        """The highest resident memory since the process started (VmHWM)."""
        return _status_kib(self.pid, "VmHWM") / 1024


@contextmanager
def serve_in_process(settings: Settings, **extra_env: str) -> Iterator[ServerProcess]:
    """Run the app for `settings` (already migrated) until the block ends."""
    port = _free_port()
    env = {
        **os.environ,
        "SERVELAB_ENVIRONMENT": "test",
        "SERVELAB_VAR_DIR": str(settings.var_dir),
        "SERVELAB_DATABASE_URL": settings.database_url,
        "SERVELAB_EXERCISES_DIR": str(settings.exercises_dir),
        "SERVELAB_GRADERS_DIR": str(settings.graders_dir),
        "SERVELAB_PORT": str(port),
        "SERVELAB_EMBEDDED_WORKER": "false",
        "SERVELAB_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    log = settings.var_dir / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "servelab", "serve"], env=env, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if child.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield ServerProcess(url, child.pid, log)
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=30)
