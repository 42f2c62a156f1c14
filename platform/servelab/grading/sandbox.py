"""Where a submission becomes containers: train it, serve it on a Unix socket, always clean up.

One Sandbox per submission. Every container runs without network, on a read-only root, as a
non-root user with no capabilities, under memory/CPU/pids/file limits, and carries ServeLab's
labels so that `sweep_orphans` can remove anything a crashed worker left behind.

MODEL_DIR is a size-capped tmpfs that must outlive the train container. As root, the platform
mounts it on the host (one system call). Otherwise it is a Docker tmpfs volume; Docker unmounts
those (losing their content) when the last container using them stops, so a tiny "holder"
container keeps it mounted from before training until the sandbox closes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
from docker.models.containers import Container
from docker.types import Mount

from servelab.grading import hostmount, messages
from servelab.grading.limits import HARD_CAP, SandboxLimits
from servelab.grading.orphans import (
    MANAGED_LABEL,
    OWNER_LABEL,
    ROLE_LABEL,
    SANDBOX_LABEL,
    SOCKET_ROOT,
    owner_token,
    remove_container,
    remove_volume,
    sweep_orphans,
)
from servelab.grading.output import CappedOutput, attach_output
from servelab.grading.runtime import LEARNER_UID, RuntimeImageError

__all__ = [
    "HARD_CAP",
    "MANAGED_LABEL",
    "OWNER_LABEL",
    "SANDBOX_LABEL",
    "SOCKET_ROOT",
    "PhaseResult",
    "Sandbox",
    "SandboxLimits",
    "sweep_orphans",
]

SOCKET_NAME = "service.sock"
_CONTAINER_SOCKET_DIR = "/run/servelab"
_POLL_SECONDS = 0.05


@dataclass
class PhaseResult:
    """How one phase (train or startup) of a submission went."""

    phase: str  # "train" | "startup"
    ok: bool
    reason: str  # "ok" | "exit" | "timeout" | "oom" | "unhealthy" | "crashed"
    exit_code: int | None
    seconds: float  # the learner's own time: from container start to end of the phase
    output: str  # capped: head + tail + "[... N bytes cut ...]"
    message: str  # learner-facing: what happened and what to do
    timings: dict[str, float] = field(default_factory=dict)  # create/start/run/remove


class Sandbox:
    """Containers, volume and socket directory of one submission; a context manager."""

    def __init__(
        self,
        *,
        source_dir: Path,
        data_dir: Path,
        work_dir: Path,
        limits: SandboxLimits,
        image: str,
        labels: dict[str, str] | None = None,
        client: docker.DockerClient | None = None,
        health_path: str = "/health",
        model_store: str = "auto",  # "host" (a tmpfs mounted here) | "volume" | "auto"
    ) -> None:
        self.source_dir = source_dir.resolve()
        self.data_dir = data_dir.resolve()
        self.work_dir = work_dir
        self.limits = limits.clamped()
        self.image = image
        self.health_path = health_path
        self._own_client = client is None
        self.client = client or docker.from_env()
        self.id = secrets.token_hex(6)
        self.labels = {
            **(labels or {}),
            MANAGED_LABEL: "1",
            SANDBOX_LABEL: self.id,
            OWNER_LABEL: owner_token(),
        }
        if model_store == "auto":
            model_store = "host" if hostmount.can_mount() else "volume"
        self.model_store = model_store
        # Host-side state lives under a short SOCKET_ROOT, not work_dir: a Unix socket's path
        # must fit in 108 bytes, and the pid in the name lets the sweeper spot orphans.
        self.host_dir = SOCKET_ROOT / f"{os.getpid()}-{self.id}"
        self.socket_dir = self.host_dir / "run"  # the serve container's /run/servelab
        # Where the platform connects: outside anything a container can write (see _claim_socket).
        self.socket_path = self.host_dir / SOCKET_NAME
        self.model_dir = self.host_dir / "model"  # host side of MODEL_DIR in "host" mode
        self.volume_name = f"servelab-model-{self.id}"
        self.timings: dict[str, float] = {}
        self.container_ids: list[str] = []  # every container this sandbox created
        self._containers: dict[str, Container] = {}
        self._outputs: dict[str, CappedOutput] = {}
        self._readers: dict[str, threading.Thread] = {}
        self._model_ready = False
        self._volume_created = False
        self._closed = False
        self._pids_at_deadline = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- phases ---------------------------------------------------------------------------

    def train(self) -> PhaseResult:
        """Run `python train.py` with DATA_DIR (read-only) and an empty, writable MODEL_DIR."""
        self._ensure_model_store()
        mounts = [
            self._bind(self.source_dir, "/submission"),
            self._bind(self._public_data(), "/data"),
            self._model_mount(read_only=False),
        ]
        container, timings = self._launch("train", ["python", "train.py"], mounts)
        started = time.monotonic()
        timed_out = self._wait(container, self.limits.train_seconds)
        seconds = time.monotonic() - started
        state = self._finish("train", container, timings)
        output = self._outputs["train"].text()
        reason, exit_code = _classify(state, timed_out)
        message = messages.train_message(reason, exit_code, output, self.limits)
        if timed_out and self._pids_at_deadline >= self.limits.pids - 2:
            message += messages.too_many_processes(self._pids_at_deadline, self.limits)
        return PhaseResult(
            "train", reason == "ok", reason, exit_code, seconds, output, message, timings
        )

    def start_service(self) -> PhaseResult:
        """Start uvicorn on the socket with MODEL_DIR read-only; wait until health answers 200."""
        self._ensure_model_store()
        self.socket_dir.mkdir(mode=0o700)
        try:
            os.chown(self.socket_dir, LEARNER_UID, LEARNER_UID)
        except PermissionError:  # a non-root platform: the directory's parent stays private
            self.socket_dir.chmod(0o777)
        mounts = [
            self._bind(self.source_dir, "/submission"),
            self._model_mount(read_only=True),
            Mount(_CONTAINER_SOCKET_DIR, str(self.socket_dir), type="bind", read_only=False),
        ]
        command = ["uvicorn", "main:app", "--uds", f"{_CONTAINER_SOCKET_DIR}/{SOCKET_NAME}"]
        command += ["--no-access-log", "--timeout-graceful-shutdown", "1"]
        container, timings = self._launch("serve", command, mounts)
        started = time.monotonic()
        reason, last_status = self._wait_healthy(container, started)
        seconds = time.monotonic() - started
        timings["run"] = seconds
        exit_code: int | None = None
        if reason == "ok":
            output = self._outputs["serve"].text()
        else:
            container.reload()
            reason, exit_code = _startup_reason(container.attrs["State"], reason)
            output = self._stop_output("serve")
        message = messages.startup_message(
            reason, exit_code, output, self.limits, self.health_path, last_status
        )
        return PhaseResult(
            "startup", reason == "ok", reason, exit_code, seconds, output, message, timings
        )

    def service_output(self) -> str:
        """The serve container's captured output so far (capped)."""
        capture = self._outputs.get("serve")
        return capture.text() if capture else ""

    def service_alive(self) -> PhaseResult:
        """Whether the service still runs (call after tests): a crash or OOM is explained."""
        container = self._containers.get("serve")
        if container is None:
            return PhaseResult("serve", False, "crashed", None, 0.0, "", "The service never ran.")
        if self._answers_health():
            return PhaseResult("serve", True, "ok", None, 0.0, self.service_output(), "")
        try:
            container.wait(timeout=3)  # it stopped answering: let Docker record how it ended
            container.reload()
            state = container.attrs["State"]
        except docker.errors.NotFound:
            state = {"Running": False, "ExitCode": None, "OOMKilled": False}
        except Exception:  # still running after all: alive but not answering
            state = container.attrs["State"]
        if state.get("Running"):
            output = self.service_output()
            message = messages.serve_message("unhealthy", None, output, self.limits)
            return PhaseResult("serve", False, "unhealthy", None, 0.0, output, message)
        reason, exit_code = _startup_reason(state, "crashed")
        output = self._stop_output("serve")
        message = messages.serve_message(reason, exit_code, output, self.limits)
        return PhaseResult("serve", False, reason, exit_code, 0.0, output, message)

    def _answers_health(self) -> bool:
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        try:
            with httpx.Client(transport=transport, base_url="http://service", timeout=5) as http:
                return http.get(self.health_path).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        """Kill and remove containers, the model volume and the socket dir; safe to repeat."""
        if self._closed:
            return
        self._closed = True
        started = time.monotonic()
        for container in list(self._containers.values()):
            remove_container(container)
        self._containers.clear()
        for reader in self._readers.values():
            reader.join(timeout=2)
        if self._volume_created:
            remove_volume(self.client, self.volume_name)
        hostmount.unmount(self.model_dir)
        shutil.rmtree(self.host_dir, ignore_errors=True)
        if self._own_client:
            self.client.close()
        self.timings["cleanup"] = time.monotonic() - started

    def _public_data(self) -> Path:
        """The exercise's public data; an empty folder when the exercise has none."""
        if self.data_dir.is_dir():
            return self.data_dir
        empty = self.host_dir / "no-data"
        empty.mkdir(mode=0o755, exist_ok=True)
        return empty

    # -- containers -----------------------------------------------------------------------

    def _bind(self, source: Path, target: str) -> Mount:
        return Mount(target, str(source), type="bind", read_only=True)

    def _base_config(self, role: str) -> dict[str, Any]:
        return {
            "image": self.image,
            "user": f"{LEARNER_UID}:{LEARNER_UID}",
            "working_dir": "/submission",
            "network_mode": "none",
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "init": True,  # a real PID 1 reaps zombies; the kill still takes the whole cgroup
            "log_config": {"type": "none", "config": {}},  # output is read by attaching
            "labels": {**self.labels, ROLE_LABEL: role},
            "hostname": "submission",
            "environment": {
                "MODEL_DIR": "/model",
                "HOME": "/tmp",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
                **self.limits.thread_environment(),
            },
            "detach": True,
            **self.limits.docker_options(),
        }

    def _launch(
        self, role: str, command: list[str], mounts: list[Mount]
    ) -> tuple[Container, dict[str, float]]:
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        config = self._base_config(role)
        if role == "train":
            config["environment"]["DATA_DIR"] = "/data"
        t0 = time.monotonic()
        try:
            container = self.client.containers.create(command=command, mounts=mounts, **config)
        except docker.errors.ImageNotFound:
            raise RuntimeImageError(
                f"The runtime image {self.image} is missing; run `servelab runtime build`."
            ) from None
        self._containers[role] = container
        self.container_ids.append(container.id)
        t1 = time.monotonic()
        self._attach(role, container)
        container.start()
        t2 = time.monotonic()
        return container, {"create": t1 - t0, "start": t2 - t1}

    def _attach(self, role: str, container: Container) -> None:
        """Stream stdout+stderr into a capped buffer; attaching before start misses nothing."""
        capture, reader = attach_output(self.client, container, self.limits.output_bytes)
        self._outputs[role] = capture
        self._readers[role] = reader

    def _wait(self, container: Container, seconds: float) -> bool:
        """Wait for the container to exit; kill it at the deadline. True when it timed out."""
        try:
            container.wait(timeout=seconds)
            return False
        except Exception:  # requests raises ReadTimeout or ConnectionError at the deadline
            self._pids_at_deadline = _pids(container)
            _kill(container)
            container.wait(timeout=30)
            return True

    def _finish(self, role: str, container: Container, timings: dict[str, float]) -> dict[str, Any]:
        """Collect exit state and output, then remove the container (it has no more use)."""
        container.reload()
        state = dict(container.attrs["State"])
        self._readers[role].join(timeout=5)
        t0 = time.monotonic()
        remove_container(container)
        self._containers.pop(role, None)
        timings["remove"] = time.monotonic() - t0
        return state

    def _stop_output(self, role: str) -> str:
        container = self._containers.pop(role, None)
        if container is not None:
            remove_container(container)
        self._readers[role].join(timeout=5)
        return self._outputs[role].text()

    def _claim_socket(self) -> bool:
        """Move uvicorn's socket out of the directory the container can write, once it listens.

        The platform (root) connects to this path; if it stayed where the learner's code can
        replace it with a symlink, the platform could be pointed at any socket on the host.
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

    def _wait_healthy(self, container: Container, started: float) -> tuple[str, int | None]:
        deadline = started + self.limits.startup_seconds
        last_status: int | None = None
        next_state_check = 0.0
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        with httpx.Client(transport=transport, base_url="http://service", timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self._claim_socket():
                    try:
                        last_status = http.get(self.health_path).status_code
                        if last_status == 200:
                            return "ok", last_status
                    except httpx.HTTPError:
                        pass
                now = time.monotonic()
                if now >= next_state_check:
                    next_state_check = now + 0.25
                    container.reload()
                    if container.status not in ("created", "running"):
                        return "crashed", last_status
                time.sleep(_POLL_SECONDS)
        return "unhealthy", last_status

    def _model_mount(self, *, read_only: bool) -> Mount:
        if self.model_store == "host":
            return Mount("/model", str(self.model_dir), type="bind", read_only=read_only)
        return Mount("/model", self.volume_name, type="volume", read_only=read_only, no_copy=True)

    def _ensure_model_store(self) -> None:
        """The per-submission host dir, and MODEL_DIR: a host tmpfs or a held volume."""
        if self._model_ready:
            return
        SOCKET_ROOT.mkdir(mode=0o700, exist_ok=True)
        self.host_dir.mkdir(mode=0o700)
        if self.model_store == "host":
            self.model_dir.mkdir(mode=0o700)
            try:
                hostmount.mount_tmpfs(
                    self.model_dir, size_bytes=self.limits.model_dir_bytes, uid=LEARNER_UID
                )
                self._model_ready = True
                return
            except OSError:  # root without CAP_SYS_ADMIN (e.g. in a container): use a volume
                self.model_store = "volume"
        options = (
            f"size={self.limits.model_dir_bytes},uid={LEARNER_UID},gid={LEARNER_UID},mode=0700"
        )
        self.client.volumes.create(
            self.volume_name,
            driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": options},
            labels=self.labels,
        )
        self._model_ready = True
        self._volume_created = True
        config = self._base_config("holder")
        config.update(mem_limit=32 * 1024 * 1024, memswap_limit=32 * 1024 * 1024, pids_limit=4)
        config["nano_cpus"] = int(0.1e9)
        mounts = [Mount("/model", self.volume_name, type="volume", read_only=True, no_copy=True)]
        t0 = time.monotonic()
        holder = self.client.containers.create(
            command=["sleep", "infinity"], mounts=mounts, **config
        )
        self._containers["holder"] = holder
        self.container_ids.append(holder.id)
        holder.start()
        self.timings["holder"] = time.monotonic() - t0


def _classify(state: dict[str, Any], timed_out: bool) -> tuple[str, int | None]:
    exit_code = state.get("ExitCode")
    if timed_out:
        return "timeout", exit_code
    if state.get("OOMKilled"):
        return "oom", exit_code
    if exit_code == 0:
        return "ok", 0
    return "exit", exit_code


def _startup_reason(state: dict[str, Any], reason: str) -> tuple[str, int | None]:
    exit_code = state.get("ExitCode")
    if state.get("OOMKilled"):
        return "oom", exit_code
    if reason == "unhealthy":
        return "unhealthy", None
    return "crashed", exit_code


def _pids(container: Container) -> int:
    """How many processes the container runs now (0 when Docker cannot say)."""
    try:
        stats = container.stats(stream=False, one_shot=True)
        return int((stats.get("pids_stats") or {}).get("current") or 0)
    except (docker.errors.APIError, ValueError, TypeError):
        return 0


def _kill(container: Container) -> None:
    try:
        container.kill()
    except docker.errors.APIError:
        pass  # already gone or already stopped
