"""Which process made something, and whether that very process still runs.

A pid alone cannot tell: pids are reused, so a name holding only a pid looks alive as soon as
a later process gets that pid. Whatever a worker leaves behind records its pid *and* the pid's
start time: the owner token on Docker labels and in worker ids (`host:pid:start`), and the tag
in job and socket folder names (`hostkey.pid.start`). A process is alive when a process with
that pid runs now and started at that time. Only the host (or container: its hostname) that
made a thing can judge its pid: another host's tag or owner counts as alive, so workers that
share a folder (same-path storage, NFS, containers) never sweep each other's live jobs.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

HOST = socket.gethostname()
# The host in a folder name: host names may hold "." and "-", the tag's separators.
HOST_KEY = hashlib.sha256(HOST.encode()).hexdigest()[:10]
_HAS_PROC = Path("/proc/self/stat").is_file()


def start_time(pid: int) -> str | None:
    """When `pid` started (clock ticks since boot), or None when no process has that pid.

    Without /proc (not Linux) the start time cannot be read: a pid that exists counts as "0".
    """
    if not _HAS_PROC:
        return "0" if _pid_exists(pid) else None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2, in parentheses) may itself hold spaces or ")".
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _alive(pid: str, started: str) -> bool:
    return pid.isdigit() and start_time(int(pid)) == started


def tag_for(pid: int, started: str | None) -> str:
    """The folder-name tag of a process of this host: `hostkey.pid.start` (no `:` or `-`)."""
    return f"{HOST_KEY}.{pid}.{started}"


def process_tag() -> str:
    """This process, for a file or folder name (see `tag_for`)."""
    pid = os.getpid()
    return tag_for(pid, start_time(pid))


def tag_alive(tag: str) -> bool:
    """Does the process a `process_tag()` names still run? Another host's tag counts as alive
    (not ours to judge); anything that is not a tag does not."""
    host_key, _, rest = tag.partition(".")
    pid, _, started = rest.partition(".")
    if not (host_key and pid.isdigit() and started):
        return False
    if host_key != HOST_KEY:
        return True
    return _alive(pid, started)


def owner_token() -> str:
    """Who created a resource: host, pid and that pid's start time (`host:pid:start`)."""
    pid = os.getpid()
    return f"{HOST}:{pid}:{start_time(pid)}"


def on_this_host(owner: str) -> bool:
    return owner.partition(":")[0] == HOST


def is_this_process(owner: str) -> bool:
    return owner == owner_token()


def owner_alive(owner: str | None) -> bool:
    """Does the process an `owner_token()` names still run? Another host's owner counts as
    alive (it is not ours to judge); a missing or unreadable owner does not."""
    if not owner:
        return False
    if not on_this_host(owner):
        return True
    _host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    return _alive(pid, started)
