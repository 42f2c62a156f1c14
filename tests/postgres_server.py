"""A throwaway PostgreSQL 15 for tests: Debian's server binaries, a cluster in a temp folder.

`PostgresServer` is a cluster on a free loopback port that a test can stop and start again on
the same port (a fault test's "PostgreSQL briefly unavailable"). As root it runs as the
`postgres` system user, since PostgreSQL refuses root. The session's shared server
(`postgres_url` in tests/conftest.py) is one of these; SERVELAB_TEST_POSTGRES_URL names a
server that already runs instead. Missing binaries fail under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from live_server import free_port
from support import require_service

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresServer:
    """initdb once, then `start()` / `stop()` as often as a test likes; `remove()` at the end."""

    def __init__(self) -> None:
        available = (PG_BIN / "initdb").exists() and (os.geteuid() != 0 or shutil.which("runuser"))
        require_service(bool(available), "PostgreSQL 15 (/usr/lib/postgresql/15/bin)")
        self.base = Path(tempfile.mkdtemp(prefix="servelab-pg-"))
        self.data, self.sockets = self.base / "data", self.base / "sock"
        self.sockets.mkdir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                require_service(False, "a 'postgres' system user to run PostgreSQL as")
            for path in (self.base, self.sockets):
                os.chown(path, pg.pw_uid, pg.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self._started = False
        self._run(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "servelab", "-E", "UTF8")

    @property
    def url(self) -> str:
        """The server's `postgres` database, as a SQLAlchemy URL for psycopg 3."""
        return f"postgresql+psycopg://servelab@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: object, check: bool = True) -> None:
        subprocess.run(
            [*self.as_user, *map(str, args)], check=check, capture_output=True, timeout=120
        )

    def _pg_ctl(self, *args: object, check: bool = True) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, *args, check=check)

    def start(self) -> None:
        """Start on `self.port`; the first start moves to another free port when the one it
        drew was taken meanwhile (tests run in parallel). A restart keeps its port."""
        for _ in range(1 if self._started else 5):
            options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
            try:
                self._pg_ctl(
                    "-o", f"{options} -c fsync=off", "-l", self.base / "log", "-w", "start"
                )
            except subprocess.CalledProcessError:
                if self._started:
                    raise
                self.port = free_port()
                continue
            self._started = True
            return
        raise RuntimeError(f"PostgreSQL did not start; its log: {self.base / 'log'}")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server: `immediate` drops every connection at once, as a crash does."""
        self._pg_ctl("-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
