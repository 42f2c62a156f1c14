"""The platform's only read of a learner's service from the host: a bounded health probe.

Everything else that talks to the service runs in the grader's container. Waiting for start-up
and checking that the service survived the suite happen here, on the host, so they read as
little as possible: one request on the Unix socket, at most the status line (64 bytes), within a
deadline that no drip, `100 Continue` or silence can stretch. Only the three-digit status code
is parsed; nothing the service sent is kept or shown.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})[ \r]")
_MAX_READ = 64


def health_status(socket_path: Path, path: str, *, timeout: float) -> int | None:
    """The HTTP status GET `path` answers within `timeout` seconds, or None (no answer)."""
    deadline = time.monotonic() + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: service\r\nConnection: close\r\n\r\n".encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(request)
            head = b""
            while b"\n" not in head and len(head) < _MAX_READ:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sock.settimeout(left)
                chunk = sock.recv(_MAX_READ - len(head))
                if not chunk:
                    break
                head += chunk
    except OSError:
        return None
    match = _STATUS_LINE.match(head)
    return int(match.group(1)) if match else None
