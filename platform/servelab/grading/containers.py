"""Docker plumbing shared by every grading container: create under limits, attach, wait, remove.

A container runs without network, on a read-only root, as an unprivileged user with no
capabilities, under the memory/CPU/pids/file limits of a `SandboxLimits`, optionally under
gVisor (`runtime="runsc"`), and carries ServeLab's labels so the sweeper can find it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount, Ulimit

from servelab.grading.limits import SandboxLimits
from servelab.grading.orphans import ROLE_LABEL, remove_container
from servelab.grading.output import CappedOutput, attach_output
from servelab.grading.runtime import RuntimeImageError


@dataclass
class Launched:
    """A started container, the capture of its output, and what creating it cost."""

    role: str
    container: Container
    output: CappedOutput
    reader: threading.Thread
    timings: dict[str, float] = field(default_factory=dict)
    errors: CappedOutput | None = None  # stderr, when launched with `stderr_bytes`


def bind(source: object, target: str, *, read_only: bool = True) -> Mount:
    return Mount(target, str(source), type="bind", read_only=read_only)


def container_config(
    *,
    image: str,
    uid: int,
    role: str,
    labels: dict[str, str],
    limits: SandboxLimits,
    environment: dict[str, str],
    working_dir: str,
    runtime: str | None,
) -> dict[str, Any]:
    """Docker SDK `containers.create` options for one locked-down grading container."""
    config: dict[str, Any] = {
        "image": image,
        "user": f"{uid}:{uid}",
        "working_dir": working_dir,
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "init": True,  # a real PID 1 reaps zombies; the kill still takes the whole cgroup
        "log_config": {"type": "none", "config": {}},  # output is read by attaching
        "labels": {**labels, ROLE_LABEL: role},
        "hostname": role,
        "environment": {
            "HOME": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            **limits.thread_environment(),
            **environment,
        },
        "detach": True,
        **limits.docker_options(),
    }
    if runtime:
        config["runtime"] = runtime
    if runtime == "runsc":
        config.update(_gvisor_process_limits(limits, config))
    return config


def _gvisor_process_limits(limits: SandboxLimits, config: dict[str, Any]) -> dict[str, Any]:
    """gVisor counts processes itself: RLIMIT_NPROC inside its kernel is the learner's limit.

    The container's pids cgroup also holds gVisor's own threads (about 40 at rest, and stub
    processes per guest process on the ptrace platform); at the learner's limit it would crash
    the sandbox before the guest saw a refusal, so it stays only as a wide backstop.
    """
    nproc = Ulimit(name="nproc", soft=limits.pids, hard=limits.pids)
    return {
        "pids_limit": max(limits.pids * 4, limits.pids + 512),
        "ulimits": [*config["ulimits"], nproc],
    }


def launch(
    client: docker.DockerClient,
    role: str,
    command: list[str],
    mounts: list[Mount],
    config: dict[str, Any],
    output_bytes: int,
    *,
    stderr_bytes: int | None = None,
) -> Launched:
    """Create, attach (before start, so no output is missed) and start a container.

    With `stderr_bytes`, stderr is captured apart (`Launched.errors`); else with stdout.
    """
    t0 = time.monotonic()
    try:
        container = client.containers.create(command=command, mounts=mounts, **config)
    except docker.errors.ImageNotFound:
        raise RuntimeImageError(
            f"The image {config['image']} is missing; run `servelab runtime build`."
        ) from None
    t1 = time.monotonic()
    errors = CappedOutput(stderr_bytes) if stderr_bytes is not None else None
    capture, reader = attach_output(client, container, output_bytes, stderr=errors)
    launched = Launched(role, container, capture, reader, errors=errors)
    try:
        container.start()
    except BaseException:
        remove_container(container)
        raise
    launched.timings = {"create": t1 - t0, "start": time.monotonic() - t1}
    return launched


def wait_or_kill(container: Container, seconds: float) -> tuple[bool, int]:
    """Wait for the container to exit, killing it at the deadline.

    Returns (timed_out, processes running at the deadline).
    """
    try:
        container.wait(timeout=seconds)
        return False, 0
    except Exception:  # requests raises ReadTimeout or ConnectionError at the deadline
        running = process_count(container)
        kill(container)
        container.wait(timeout=30)
        return True, running


def finish(launched: Launched) -> dict[str, Any]:
    """Exit state, then remove the container; its output stays in `launched.output`."""
    launched.container.reload()
    state = dict(launched.container.attrs["State"])
    launched.reader.join(timeout=5)
    t0 = time.monotonic()
    remove_container(launched.container)
    launched.timings["remove"] = time.monotonic() - t0
    return state


def classify(state: dict[str, Any], timed_out: bool) -> tuple[str, int | None]:
    """(reason, exit code): reason is ok | exit | timeout | oom."""
    exit_code = state.get("ExitCode")
    if timed_out:
        return "timeout", exit_code
    if state.get("OOMKilled"):
        return "oom", exit_code
    if exit_code == 0:
        return "ok", 0
    return "exit", exit_code


def process_count(container: Container) -> int:
    """How many processes the container runs now (0 when Docker cannot say)."""
    try:
        stats = container.stats(stream=False, one_shot=True)
        return int((stats.get("pids_stats") or {}).get("current") or 0)
    except (docker.errors.APIError, ValueError, TypeError):
        return 0


def kill(container: Container) -> None:
    try:
        container.kill()
    except docker.errors.APIError:
        pass  # already gone or already stopped
