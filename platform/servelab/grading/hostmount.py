"""Size-capped tmpfs mounts on the host, for a submission's folders when the platform is root.

Each sandbox's host folder is a small tmpfs (the serve container's socket folder lives in it,
so a learner can fill at most that), with MODEL_DIR and the grader's results folder as tmpfs
mounts of their own inside it. Mounting is a single system call, far cheaper than the
alternative (a Docker tmpfs volume that a "holder" container must keep mounted between
training and serving). MODEL_DIR's content survives from the train container to the serve
container because the host holds the mount.
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


def mount_tmpfs(
    target: Path, *, size_bytes: int, uid: int, mode: int = 0o700, inodes: int | None = None
) -> None:
    """Mount a tmpfs of at most size_bytes (and `inodes` files) at target, owned by uid."""
    options = f"size={size_bytes},uid={uid},gid={uid},mode={mode:04o}"
    if inodes is not None:
        options += f",nr_inodes={inodes}"
    flags = _MS_NOSUID | _MS_NODEV
    if _libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", flags, options.encode()) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), str(target))


def unmount(target: Path) -> None:
    """Detach the mount at target (lazily, so a container still dying cannot block it)."""
    if os.path.ismount(target):
        _libc.umount2(os.fsencode(target), _MNT_DETACH)


def unmount_tree(root: Path) -> None:
    """Detach every mount at or under root, deepest first, so rmtree never walks into one."""
    prefix = os.fsencode(os.path.abspath(root))
    points = []
    try:
        lines = Path("/proc/self/mountinfo").read_bytes().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split(b" ")
        if len(fields) > 4:
            # mountinfo escapes spaces and other odd bytes as octal (\040)
            point = fields[4].decode("unicode_escape").encode("latin-1")
            if point == prefix or point.startswith(prefix + b"/"):
                points.append(point)
    for point in sorted(set(points), key=len, reverse=True):
        _libc.umount2(point, _MNT_DETACH)
