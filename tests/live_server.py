"""A real ServeLab server for load tests: `servelab serve` (uvicorn) in a subprocess on
loopback, with its resident memory read from /proc/<pid>/status.

Import with `from live_server import ...`. Every test that uses it bounds its traffic in
count and time, and only ever talks to 127.0.0.x.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from servelab.db.migrate import upgrade
from servelab.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise LookupError(field_name)


@dataclass
class LiveServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        return _status_kib(self.pid, "VmRSS") / 1024

    def peak_rss_mib(self) -> float:
        """The highest resident memory since the process started (VmHWM)."""
        return _status_kib(self.pid, "VmHWM") / 1024

    def client(self, *, source: str | None = None, **kwargs: object) -> httpx.Client:
        """An httpx client of this server; `source` binds it to a loopback address
        (127.0.0.2, ...), so the server sees requests from another client address."""
        transport = httpx.HTTPTransport(local_address=source) if source else None
        return httpx.Client(base_url=self.base_url, transport=transport, **kwargs)  # type: ignore[arg-type]

    def children(self) -> list[int]:
        """The server's child processes (the web workers of `serve --workers N`)."""
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class PeakMemory:
    """The server's peak resident memory while the `with` block runs: the kernel's
    high-water mark (reset at the start) and our own samples every 10 ms, whichever is higher."""

    server: LiveServer
    before_mib: float = 0.0
    peak_mib: float = 0.0
    _samples: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> PeakMemory:
        self.before_mib = self.server.rss_mib()
        try:  # "5" resets VmHWM to the current RSS (Linux >= 4.0)
            Path(f"/proc/{self.server.pid}/clear_refs").write_text("5")
        except OSError:
            pass
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            try:
                self._samples.append(self.server.rss_mib())
            except (OSError, LookupError):
                return

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        hwm = _status_kib(self.server.pid, "VmHWM") / 1024
        self.peak_mib = max([hwm, self.server.rss_mib(), *self._samples])

    @property
    def growth_mib(self) -> float:
        return self.peak_mib - self.before_mib


@contextmanager
def live_server(
    settings: Settings,
    tmp_path: Path | None = None,
    *,
    serve_args: Sequence[str] = (),
    **env: str,
) -> Iterator[LiveServer]:
    """Migrate settings' database, then run `servelab serve` (plus `serve_args`, such as
    `--workers 2`) on a free loopback port with those settings (plus `env`, SERVELAB_*
    values) until the block ends. No grading workers run in it unless `env` asks for them;
    its log goes to tmp_path (default: the var folder)."""
    upgrade(settings)
    port = free_port()
    environment = {
        **os.environ,
        "SERVELAB_ENVIRONMENT": settings.environment,
        "SERVELAB_VAR_DIR": str(settings.var_dir),
        "SERVELAB_DATABASE_URL": settings.database_url,
        "SERVELAB_EXERCISES_DIR": str(settings.exercises_dir),
        "SERVELAB_GRADERS_DIR": str(settings.graders_dir),
        "SERVELAB_SECRET_KEY": settings.secret_key,
        "SERVELAB_HOST": "127.0.0.1",
        "SERVELAB_PORT": str(port),
        "SERVELAB_LOG_LEVEL": "WARNING",
        "SERVELAB_EMBEDDED_WORKER": "false",
        **env,
    }
    folder = tmp_path or settings.var_dir
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "servelab", "serve", *serve_args],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{server.log()}")
            try:
                if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /healthz:\n{server.log()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
