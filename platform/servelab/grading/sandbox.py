"""Where a submission becomes containers: train it, serve it, grade it, always clean up.

One Sandbox per submission, with three containers in turn: `python train.py`, the learner's
service (uvicorn on a Unix socket) and the hidden suite (the grader's image, which reaches the
service only through that socket). Each runs without network, on a read-only root, as an
unprivileged user with no capabilities, under memory/CPU/pids/file limits (`containers.py`), and
carries ServeLab's labels so that `sweep_orphans` can remove anything a crashed worker left.

The sandbox's host folder holds what the containers share. As root, it is itself a small tmpfs
(the serve container's socket folder lives in it, so a learner can fill at most that), with
MODEL_DIR and the grader's results folder as size-capped tmpfs mounts of their own. MODEL_DIR
must outlive the train container; without mount rights it is a Docker tmpfs volume instead,
which Docker unmounts (losing its content) when the last container using it stops, so a tiny
"holder" container keeps it mounted from before training until the sandbox closes.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount

from servelab.grading import containers, hostmount, messages
from servelab.grading.containers import Launched, bind
from servelab.grading.hostdir import SOCKET_NAME, SandboxFolder
from servelab.grading.limits import SandboxLimits
from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL, SANDBOX_LABEL, remove_container
from servelab.grading.probe import health_status
from servelab.grading.processes import owner_token
from servelab.grading.runtime import GRADER_UID, LEARNER_UID

CONTAINER_SOCKET_DIR = "/run/servelab"  # where the serve and grader containers see the socket
GO_FILE = "go"  # written next to the claimed socket once the service is healthy
_POLL_SECONDS = 0.05
_PROBE_SECONDS = 2.0
_ALIVE_PROBE_SECONDS = 5.0


@dataclass
class PhaseResult:
    """How one phase (train or startup) of a submission went."""

    phase: str  # "train" | "startup"
    ok: bool
    reason: str  # "ok" | "exit" | "timeout" | "oom" | "unhealthy" | "crashed"
    exit_code: int | None
    seconds: float  # the learner's own time: from container start to end of the phase
    output: str  # capped: head + "… [N bytes cut] …" + tail
    message: str  # learner-facing: what happened and what to do
    timings: dict[str, float] = field(default_factory=dict)  # create/start/run/remove


@dataclass
class GraderRun:
    """How the hidden suite's container ended; `results` is the host side of its /results."""

    reason: str  # "ok" | "exit" | "timeout" | "oom"
    exit_code: int | None
    seconds: float
    output: str  # capped head + tail of pytest's output (instructors only)
    results: Path
    timings: dict[str, float] = field(default_factory=dict)


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
        runtime: str | None = None,  # OCI runtime for every container, e.g. "runsc" (gVisor)
    ) -> None:
        self.source_dir = source_dir.resolve()
        self.data_dir = data_dir.resolve()
        self.work_dir = work_dir
        self.limits = limits.clamped()
        self.image = image
        self.health_path = health_path
        self.runtime = runtime
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
        self.folder = SandboxFolder(
            self.id, model_store=model_store, image=image, labels=self.labels, runtime=runtime
        )
        self.host_dir = self.folder.root
        self.socket_dir = self.folder.socket_dir  # the serve container's /run/servelab
        # The claimed socket, where the platform probes; its folder is the grader's.
        self.socket_path = self.folder.socket_path
        self.model_dir = self.folder.model_dir  # host side of MODEL_DIR in "host" mode
        self.volume_name = self.folder.volume_name
        self.timings = self.folder.timings
        self.container_ids: list[str] = []  # every container this sandbox created
        self._running: dict[str, Launched] = {}
        self._outputs: dict[str, Launched] = {}  # every launched role, for its output
        self._closed = False

    @property
    def model_store(self) -> str:
        return self.folder.model_store

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- phases ---------------------------------------------------------------------------

    def train(self) -> PhaseResult:
        """Run `python train.py` with DATA_DIR (read-only) and an empty, writable MODEL_DIR."""
        self._prepare_folder()
        mounts = [
            bind(self.source_dir, "/submission"),
            bind(self.folder.public_data(self.data_dir), "/data"),
            self.folder.model_mount(read_only=False),
        ]
        launched = self._launch("train", ["python", "train.py"], mounts)
        started = time.monotonic()
        timed_out, running = containers.wait_or_kill(launched.container, self.limits.train_seconds)
        seconds = time.monotonic() - started
        state = self._finish(launched)
        output = launched.output.text()
        reason, exit_code = containers.classify(state, timed_out)
        message = messages.train_message(reason, exit_code, output, self.limits)
        if timed_out and running >= self.limits.pids - 2:
            message += messages.too_many_processes(running, self.limits)
        return PhaseResult(
            "train", reason == "ok", reason, exit_code, seconds, output, message, launched.timings
        )

    def start_service(self) -> PhaseResult:
        """Start uvicorn on the socket with MODEL_DIR read-only; wait until health answers 200."""
        self._prepare_folder()
        mounts = [
            bind(self.source_dir, "/submission"),
            self.folder.model_mount(read_only=True),
            bind(self.socket_dir, CONTAINER_SOCKET_DIR, read_only=False),
        ]
        command = ["uvicorn", "main:app", "--uds", f"{CONTAINER_SOCKET_DIR}/{SOCKET_NAME}"]
        command += ["--no-access-log", "--timeout-graceful-shutdown", "1"]
        launched = self._launch("serve", command, mounts)
        timings = launched.timings
        started = time.monotonic()
        reason, last_status = self._wait_healthy(launched.container, started)
        seconds = time.monotonic() - started
        timings["run"] = seconds
        exit_code: int | None = None
        if reason == "ok":
            output = launched.output.text()
        else:
            launched.container.reload()
            reason, exit_code = _startup_reason(launched.container.attrs["State"], reason)
            output = self._stop_output("serve")
        message = messages.startup_message(
            reason, exit_code, output, self.limits, self.health_path, last_status
        )
        return PhaseResult(
            "startup", reason == "ok", reason, exit_code, seconds, output, message, timings
        )

    def service_output(self) -> str:
        """The serve container's captured output so far (capped)."""
        launched = self._outputs.get("serve")
        return launched.output.text() if launched else ""

    def service_alive(self) -> PhaseResult:
        """Whether the service still runs (call after tests): a crash or OOM is explained.

        Its messages never quote the service's output: by now it has seen hidden data.
        """
        launched = self._running.get("serve")
        if launched is None:
            return PhaseResult("serve", False, "crashed", None, 0.0, "", "The service never ran.")
        container = launched.container
        status = health_status(self.socket_path, self.health_path, timeout=_ALIVE_PROBE_SECONDS)
        if status == 200:
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
            message = messages.serve_message("unhealthy", None, self.limits)
            return PhaseResult("serve", False, "unhealthy", None, 0.0, output, message)
        reason, exit_code = _startup_reason(state, "crashed")
        output = self._stop_output("serve")
        message = messages.serve_message(reason, exit_code, self.limits)
        return PhaseResult("serve", False, reason, exit_code, 0.0, output, message)

    def start_grader(
        self,
        *,
        image: str,
        limits: SandboxLimits,
        command: list[str],
        mounts: list[Mount],
        environment: dict[str, str],
    ) -> None:
        """Start the hidden suite's container; it waits for `signal_grader()` to test.

        It sees the claimed socket (read-only folder) at CONTAINER_SOCKET_DIR and writes its
        result document into /results, a small tmpfs of its own; `mounts` add the suite's own
        folders. The learner's containers never see any of them.
        """
        self._prepare_folder()
        self.folder.clear_results()
        mounts = [
            *mounts,
            bind(self.folder.served_dir, CONTAINER_SOCKET_DIR),
            bind(self.folder.results_dir, "/results", read_only=False),
        ]
        config = containers.container_config(
            image=image,
            uid=GRADER_UID,
            role="grader",
            labels=self.labels,
            limits=limits,
            environment=environment,
            working_dir="/tmp",
            runtime=self.runtime,
        )
        self._start(
            launched_role="grader",
            command=command,
            mounts=mounts,
            config=config,
            output_bytes=limits.output_bytes,
        )

    def run_grader(self, *, seconds: float) -> GraderRun:
        """Let the started suite test the (healthy) service; kill it at `seconds` from now."""
        launched = self._running["grader"]
        (self.folder.served_dir / GO_FILE).touch()
        started = time.monotonic()
        timed_out, _ = containers.wait_or_kill(launched.container, seconds)
        run_seconds = time.monotonic() - started
        state = self._finish(launched)
        reason, exit_code = containers.classify(state, timed_out)
        output = launched.output.text()
        return GraderRun(
            reason, exit_code, run_seconds, output, self.folder.results_dir, launched.timings
        )

    def close(self) -> None:
        """Kill and remove containers, the model volume and the socket dir; safe to repeat."""
        if self._closed:
            return
        self._closed = True
        started = time.monotonic()
        for launched in list(self._running.values()):
            remove_container(launched.container)
        self._running.clear()
        for launched in self._outputs.values():
            launched.reader.join(timeout=2)
        self.folder.remove(self.client)
        if self._own_client:
            self.client.close()
        self.timings["cleanup"] = time.monotonic() - started

    # -- containers -----------------------------------------------------------------------

    def _launch(self, role: str, command: list[str], mounts: list[Mount]) -> Launched:
        """Start one of the learner's containers (train or serve) in the runtime image."""
        environment = {"MODEL_DIR": "/model"}
        if role == "train":
            environment["DATA_DIR"] = "/data"
        config = containers.container_config(
            image=self.image,
            uid=LEARNER_UID,
            role=role,
            labels=self.labels,
            limits=self.limits,
            environment=environment,
            working_dir="/submission",
            runtime=self.runtime,
        )
        config["hostname"] = "submission"
        return self._start(
            launched_role=role,
            command=command,
            mounts=mounts,
            config=config,
            output_bytes=self.limits.output_bytes,
        )

    def _start(
        self,
        *,
        launched_role: str,
        command: list[str],
        mounts: list[Mount],
        config: dict[str, Any],
        output_bytes: int,
    ) -> Launched:
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        launched = containers.launch(
            self.client, launched_role, command, mounts, config, output_bytes
        )
        self._running[launched_role] = launched
        self._outputs[launched_role] = launched
        self.container_ids.append(launched.container.id)
        return launched

    def _prepare_folder(self) -> None:
        self.folder.prepare(self.client, limits=self.limits)
        if self.folder.holder is not None and self.folder.holder.id not in self.container_ids:
            self.container_ids.append(self.folder.holder.id)

    def _finish(self, launched: Launched) -> dict[str, Any]:
        """Collect exit state and output, then remove the container (it has no more use)."""
        state = containers.finish(launched)
        self._running.pop(launched.role, None)
        return state

    def _stop_output(self, role: str) -> str:
        launched = self._running.pop(role, None)
        if launched is None:
            return ""
        remove_container(launched.container)
        launched.reader.join(timeout=5)
        return launched.output.text()

    def _wait_healthy(self, container: Container, started: float) -> tuple[str, int | None]:
        """Probe health until 200, a crash or the startup limit, whatever the service sends."""
        deadline = started + self.limits.startup_seconds
        last_status: int | None = None
        next_state_check = 0.0
        while (left := deadline - time.monotonic()) > 0:
            if self.folder.claim_socket():
                status = health_status(
                    self.socket_path, self.health_path, timeout=min(_PROBE_SECONDS, left)
                )
                last_status = status if status is not None else last_status
                if status == 200:
                    return "ok", status
            now = time.monotonic()
            if now >= next_state_check:
                next_state_check = now + 0.25
                container.reload()
                if container.status not in ("created", "running"):
                    return "crashed", last_status
            time.sleep(_POLL_SECONDS)
        return "unhealthy", last_status


def _startup_reason(state: dict[str, Any], reason: str) -> tuple[str, int | None]:
    exit_code = state.get("ExitCode")
    if state.get("OOMKilled"):
        return "oom", exit_code
    if reason == "unhealthy":
        return "unhealthy", None
    return "crashed", exit_code
