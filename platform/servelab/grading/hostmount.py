"""A size-capped tmpfs mounted on the host, for MODEL_DIR when the platform runs as root.

Mounting is a single system call, far cheaper than the alternative (a Docker tmpfs volume that
a "holder" container must keep mounted between training and serving). The content survives
from the train container to the serve container because the host holds the mount.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_MS_NOSUID = 2
_MS_NODEV = 4
_MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def can_mount() -> bool:
    """Only root (CAP_SYS_ADMIN) may mount; otherwise the sandbox falls back to a volume."""
    return os.geteuid() == 0


def mount_tmpfs(target: Path, *, size_bytes: int, uid: int) -> None:
    """Mount a tmpfs of at most size_bytes at target, owned by uid, not executable as set-uid."""
    options = f"size={size_bytes},uid={uid},gid={uid},mode=0700".encode()
    flags = _MS_NOSUID | _MS_NODEV
    if _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", flags, options) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), str(target))


def unmount(target: Path) -> None:
    """Detach the mount at target (lazily, so a container still dying cannot block it)."""
    if os.path.ismount(target):
        _libc.umount2(os.fsencode(target), _MNT_DETACH)
