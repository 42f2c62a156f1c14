"""The host folder of one sandbox: what its containers share, each part capped and private.

    <SOCKET_ROOT>/<pid>.<start>-<id>/  a 1 MiB tmpfs (as root), mode 0700, owned by root
        run/                      the serve container's /run/servelab (the learner's uid)
        served/                   the claimed socket; the grader container's /run/servelab
        model/                    MODEL_DIR: a tmpfs of its own, the exercise's model_dir cap
        results/                  the grader's /results: a 4 MiB tmpfs (the grader's uid)
        no-data/                  an empty DATA_DIR for exercises without public data

Without mount rights (root without CAP_SYS_ADMIN, or not root) the folder is plain and MODEL_DIR
is a Docker tmpfs volume instead, which Docker unmounts (losing its content) when the last
container using it stops, so a tiny "holder" container keeps it mounted until the sandbox closes.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path

import docker
from docker.models.containers import Container
from docker.types import Mount

from servelab.grading import containers, hostmount
from servelab.grading.limits import MiB, SandboxLimits
from servelab.grading.orphans import SOCKET_ROOT, remove_container, remove_volume
from servelab.grading.processes import process_tag
from servelab.grading.runtime import GRADER_UID, LEARNER_UID

SOCKET_NAME = "service.sock"
_HOST_DIR_BYTES = 1 * MiB  # everything outside the folder's own mounts: the socket folder
_HOST_DIR_INODES = 512
_RESULTS_BYTES = 4 * MiB  # room for the result document (1 MB) and its atomic replacement


class SandboxFolder:
    """Paths and mounts of one sandbox on the host; `prepare()` once, `remove()` always."""

    def __init__(
        self,
        sandbox_id: str,
        *,
        model_store: str,
        image: str,
        labels: dict[str, str],
        runtime: str | None,
    ) -> None:
        # Under a short SOCKET_ROOT, not the job's work folder: a Unix socket's path must fit
        # in 108 bytes, and the process tag in the name lets the sweeper spot orphans.
        self.root = SOCKET_ROOT / f"{process_tag()}-{sandbox_id}"
        self.socket_dir = self.root / "run"
        self.served_dir = self.root / "served"
        self.socket_path = self.served_dir / SOCKET_NAME
        self.model_dir = self.root / "model"
        self.results_dir = self.root / "results"
        self.volume_name = f"servelab-model-{sandbox_id}"
        self.model_store = model_store  # "host" (tmpfs mounts here) | "volume"
        # What the volume's holder container runs with, when the model store is a volume.
        self._holder_image, self._labels, self._runtime = image, labels, runtime
        self.holder: Container | None = None
        self.timings: dict[str, float] = {}
        self._ready = False
        self._volume_created = False

    def prepare(self, client: docker.DockerClient, *, limits: SandboxLimits) -> None:
        """Create the folder and its parts (idempotent)."""
        if self._ready:
            return
        SOCKET_ROOT.mkdir(mode=0o700, exist_ok=True)
        self.root.mkdir(mode=0o700)
        self._ready = True
        mounted = self.model_store == "host" and _mount(
            self.root, _HOST_DIR_BYTES, uid=0, inodes=_HOST_DIR_INODES
        )
        if not mounted:
            self.model_store = "volume"
        self.served_dir.mkdir(mode=0o755)
        _private_dir(self.socket_dir, LEARNER_UID)
        _private_dir(self.results_dir, GRADER_UID)
        if mounted:
            hostmount.mount_tmpfs(self.results_dir, size_bytes=_RESULTS_BYTES, uid=GRADER_UID)
            self.model_dir.mkdir(mode=0o700)
            hostmount.mount_tmpfs(
                self.model_dir, size_bytes=limits.model_dir_bytes, uid=LEARNER_UID
            )
            return
        self._create_model_volume(client, limits.model_dir_bytes)

    def model_mount(self, *, read_only: bool) -> Mount:
        if self.model_store == "host":
            return containers.bind(self.model_dir, "/model", read_only=read_only)
        return Mount("/model", self.volume_name, type="volume", read_only=read_only, no_copy=True)

    def public_data(self, data_dir: Path) -> Path:
        """The exercise's public data; an empty folder when the exercise has none."""
        if data_dir.is_dir():
            return data_dir
        empty = self.root / "no-data"
        empty.mkdir(mode=0o755, exist_ok=True)
        return empty

    def claim_socket(self) -> bool:
        """Move uvicorn's socket out of the folder the serve container can write, once it listens.

        The platform (root) probes the claimed path and the grader's container gets its folder;
        if it stayed where the learner's code can replace it with a symlink, either could be
        pointed at any socket on the host. Both folders are on one filesystem: a rename.
        """
        if self.socket_path.exists():
            return True
        bound = self.socket_dir / SOCKET_NAME
        try:
            info = bound.lstat()
        except FileNotFoundError:
            return False
        # uvicorn chmods its socket to 0666 after listen(); before that it is still setting up.
        if not stat.S_ISSOCK(info.st_mode) or stat.S_IMODE(info.st_mode) != 0o666:
            return False
        os.rename(bound, self.socket_path)
        if not stat.S_ISSOCK(self.socket_path.lstat().st_mode):  # swapped in between: refuse
            self.socket_path.unlink()
            return False
        return True

    def clear_results(self) -> None:
        """Empty the results folder, so a suite that writes nothing is never read as another's."""
        for entry in self.results_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def remove(self, client: docker.DockerClient) -> None:
        """The holder, the model volume, every mount and the folder itself; safe to repeat."""
        if self.holder is not None:
            remove_container(self.holder)
            self.holder = None
        if self._volume_created:
            remove_volume(client, self.volume_name)
            self._volume_created = False
        hostmount.unmount_tree(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def _create_model_volume(self, client: docker.DockerClient, size_bytes: int) -> None:
        options = f"size={size_bytes},uid={LEARNER_UID},gid={LEARNER_UID},mode=0700"
        client.volumes.create(
            self.volume_name,
            driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": options},
            labels=self._labels,
        )
        self._volume_created = True
        config = containers.container_config(
            image=self._holder_image,
            uid=LEARNER_UID,
            role="holder",
            labels=self._labels,
            limits=SandboxLimits(memory_bytes=32 * MiB, cpus=0.1, pids=4),
            environment={},
            working_dir="/tmp",
            runtime=self._runtime,
        )
        mounts = [Mount("/model", self.volume_name, type="volume", read_only=True, no_copy=True)]
        t0 = time.monotonic()
        self.holder = client.containers.create(
            command=["sleep", "infinity"], mounts=mounts, **config
        )
        self.holder.start()
        self.timings["holder"] = time.monotonic() - t0


def _mount(target: Path, size: int, *, uid: int, inodes: int | None = None) -> bool:
    """Mount a tmpfs at target; False without mount rights (e.g. root inside a container)."""
    try:
        hostmount.mount_tmpfs(target, size_bytes=size, uid=uid, inodes=inodes)
    except OSError:
        return False
    return True


def _private_dir(path: Path, uid: int) -> None:
    path.mkdir(mode=0o700)
    try:
        os.chown(path, uid, uid)
    except PermissionError:  # a non-root platform: the sandbox's own folder stays private
        path.chmod(0o777)
