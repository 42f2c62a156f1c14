"""A lesson's example, run in the sandbox: the runtime image under the grading containers' locks.

The code is the lesson's own (a learner cannot change it), but what it prints is still treated
as untrusted text: captured through the grading capture (head + tail within a byte cap, stderr
kept apart), stripped of control characters, and compared with the lesson's Expected output by
its stdout alone, as `python example.py` in a terminal would be judged. The container gets what
a train container gets (`containers.container_config`): no network, read-only root, an
unprivileged user, no capabilities, CPU/memory/pids/file limits, and a wall-clock limit.
"""

from __future__ import annotations

import difflib
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from servelab.grading import containers
from servelab.grading.containers import bind
from servelab.grading.limits import SandboxLimits
from servelab.grading.orphans import MANAGED_LABEL, OWNER_LABEL, remove_container
from servelab.grading.processes import owner_token
from servelab.grading.runtime import LEARNER_UID, RuntimeImageError
from servelab.grading.truncate import cap_text
from servelab.settings import Settings

ROLE = "example"
EXAMPLE_FILE = "example.py"
CONTAINER_DIR = "/example"
OUTPUT_BYTES = 32 * 1024  # stdout kept (head + tail); a flood is cut, never stored
STDERR_BYTES = 16 * 1024
STDERR_TAIL_CHARS = 4000  # the end of stderr is where a traceback says what went wrong
DIFF_CHARS = 8000
DIFF_LINES = 200
# A lesson's example calls its app through FastAPI's TestClient (httpx, in the runtime image
# for that); Starlette's notice that it prefers httpx2 is silenced as pyproject.toml does.
EXAMPLE_WARNINGS = "ignore:Using `httpx` with `starlette.testclient` is deprecated"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # all but tab and newline


class ExampleUnavailable(Exception):
    """Docker (or the runtime image) cannot run examples now; nothing ran."""

    message = (
        "Examples cannot run right now: the sandbox that runs them is not available. "
        "Try again in a few minutes, or run the example on your own machine with "
        "`python example.py`."
    )


@dataclass(frozen=True)
class ExampleRun:
    """How one run of a lesson's example went, ready to show (every text capped)."""

    reason: str  # "ok" | "exit" | "timeout" | "oom"
    exit_code: int | None
    seconds: float
    limit_seconds: float
    memory_mb: int
    output: str  # stdout, capped, control characters replaced
    stderr_tail: str  # the end of stderr, capped
    matches: bool  # stdout equals the Expected output, line for line
    diff: str  # unified diff expected -> this run, capped; "" when it matches

    @property
    def message(self) -> str:
        """What happened, for the learner."""
        if self.reason == "timeout":
            return (
                f"The example ran out of its {self.limit_seconds:g} s time limit and was "
                "stopped; its output so far is below."
            )
        if self.reason == "oom":
            return f"The example ran out of its {self.memory_mb} MB memory limit and was stopped."
        if self.reason == "exit":
            return (
                f"The example stopped with exit code {self.exit_code}; "
                "the end of its error output is below."
            )
        if self.matches:
            return f"The example ran in {self.seconds:.1f} s and its output matches."
        return (
            f"The example ran in {self.seconds:.1f} s, but its output differs from the "
            "expected output (the differences are below)."
        )


def example_limits(settings: Settings) -> SandboxLimits:
    """A train container's default limits, with the example's own time and output caps."""
    return SandboxLimits(
        train_seconds=settings.example_run_seconds, output_bytes=OUTPUT_BYTES
    ).clamped()


def printable(text: str) -> str:
    """Untrusted output as plain lines: control characters (terminal escapes) become U+FFFD."""
    return _CONTROL.sub("\ufffd", text.replace("\r\n", "\n"))


def compare(expected: str, actual: str) -> tuple[bool, str]:
    """(matches, capped unified diff): line for line, so only a final newline may differ."""
    want, got = expected.splitlines(), actual.splitlines()
    if want == got:
        return True, ""
    lines = list(
        difflib.unified_diff(
            want, got, fromfile="expected output", tofile="this run", lineterm="", n=2
        )
    )
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"… [{len(lines) - DIFF_LINES} more diff lines] …"]
    return False, cap_text("\n".join(lines), DIFF_CHARS)


def run_example(
    code: str,
    expected_output: str,
    *,
    settings: Settings,
    client: docker.DockerClient | None = None,
) -> ExampleRun:
    """Run `code` as example.py in a fresh locked-down container; raises ExampleUnavailable."""
    limits = example_limits(settings)
    own_client = client is None
    try:
        client = client or docker.from_env(timeout=30)
        with tempfile.TemporaryDirectory(prefix="servelab-example-") as tmp:
            folder = Path(tmp)
            script = folder / EXAMPLE_FILE
            script.write_text(code, encoding="utf-8")
            folder.chmod(0o755)  # the container's unprivileged user reads it, nothing more
            script.chmod(0o644)
            return _run(client, folder, expected_output, limits, settings)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise ExampleUnavailable() from exc
    except RuntimeImageError as exc:
        raise ExampleUnavailable() from exc
    finally:
        if own_client and client is not None:
            client.close()


def _run(
    client: docker.DockerClient,
    folder: Path,
    expected_output: str,
    limits: SandboxLimits,
    settings: Settings,
) -> ExampleRun:
    config = containers.container_config(
        image=settings.runtime_image,
        uid=LEARNER_UID,
        role=ROLE,
        labels={MANAGED_LABEL: "1", OWNER_LABEL: owner_token()},
        limits=limits,
        environment={"PYTHONWARNINGS": EXAMPLE_WARNINGS},
        working_dir=CONTAINER_DIR,
        runtime=settings.sandbox_runtime,
    )
    mounts = [bind(folder, CONTAINER_DIR)]
    launched = containers.launch(
        client,
        ROLE,
        ["python", EXAMPLE_FILE],
        mounts,
        config,
        limits.output_bytes,
        stderr_bytes=STDERR_BYTES,
    )
    try:
        started = time.monotonic()
        timed_out, _ = containers.wait_or_kill(launched.container, limits.train_seconds)
        seconds = time.monotonic() - started
        state = containers.finish(launched)
    finally:
        remove_container(launched.container)  # a no-op once finish() removed it
    reason, exit_code = containers.classify(state, timed_out)
    output = printable(launched.output.text())
    errors = printable(launched.errors.text()) if launched.errors else ""
    matches, diff = compare(expected_output, output)
    return ExampleRun(
        reason=reason,
        exit_code=exit_code,
        seconds=seconds,
        limit_seconds=limits.train_seconds,
        memory_mb=limits.memory_bytes // (1024 * 1024),
        output=output,
        stderr_tail=errors[-STDERR_TAIL_CHARS:],
        matches=matches and reason == "ok",
        diff=diff,
    )
