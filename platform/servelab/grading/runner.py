"""Run an exercise's hidden pytest suite against a learner's service, in a container of its own.

The suite reads learner-controlled data (the service's answers and its OpenAPI document), so it
never runs on the host: it runs in the grader image (pytest, ServeLab's plugin, schemathesis,
Hypothesis, numpy/pandas/scikit-learn) as an unprivileged user without network, on a read-only
root, with the exercise's grader folder and public folder mounted read-only, ServeLab's package
mounted read-only for the plugin, and the learner's service reachable only through its Unix
socket. It writes its result document into a small tmpfs, read back as capped, validated JSON.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docker.types import Mount

import servelab
from servelab.content.exercise import Exercise
from servelab.grading.containers import bind
from servelab.grading.hostdir import SOCKET_NAME
from servelab.grading.limits import MiB, SandboxLimits
from servelab.grading.results import ResultDocument, ResultError, read_result_file
from servelab.grading.sandbox import CONTAINER_SOCKET_DIR, GO_FILE, GraderRun, Sandbox
from servelab.settings import Settings

RESULTS_NAME = "results.json"
PACKAGE_DIR = Path(servelab.__file__).resolve().parent
# The container's wall clock beyond the suite's own budget: Python's start-up and the last
# write of the result document. A suite that runs into it is killed and graded on what finished.
GRACE_SECONDS = 15.0
_OUTPUT_CAP = 64 * 1024
# pytest exit codes: 0 all passed, 1 some failed; anything else means the suite did not run.
_SUITE_RAN = {0, 1}


class SuiteError(Exception):
    """The hidden suite crashed or wrote no valid result: a platform (or grader) problem."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.output = output


@dataclass(frozen=True)
class SuiteOutcome:
    """The graded document, and why the suite stopped early if it did ("timeout" | "oom")."""

    doc: ResultDocument
    stopped: str | None
    seconds: float  # the suite container's own run
    timings: dict[str, float]  # the platform's container create/start/remove


def suite_command(*, budget_seconds: float, hidden_parts: bool, wait_seconds: float) -> list[str]:
    """The grader container's command: wait for the healthy service (at most wait_seconds),
    then pytest with ServeLab's plugin and no project configuration."""
    command = [
        "python",
        "-m",
        "servelab.grading.suite_entry",
        f"{CONTAINER_SOCKET_DIR}/{GO_FILE}",
        f"{wait_seconds:g}",
        "--",
        "-p",
        "servelab.grading.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "_hypothesis_pytestplugin",
        "-c",
        "/dev/null",
        "--rootdir",
        "/grader",
        "--confcutdir",
        "/grader",
        "-q",
        "--no-header",
        "-o",
        "console_output_style=classic",
        f"--servelab-socket={CONTAINER_SOCKET_DIR}/{SOCKET_NAME}",
        "--servelab-exercise-dir=/exercise",
        "--servelab-grader-dir=/grader",
        f"--servelab-results=/results/{RESULTS_NAME}",
    ]
    command += _plugin_options(budget_seconds, hidden_parts)
    return [*command, "/grader"]


def _plugin_options(budget_seconds: float, hidden_parts: bool) -> list[str]:
    """The suite's own clock (the container's wall clock adds GRACE_SECONDS), and the parts
    of split hidden data, final first: the grade is computed before the feedback."""
    options = [f"--servelab-time-budget={budget_seconds:g}"]
    if hidden_parts:
        options.append("--servelab-hidden-parts=final,feedback")
    return options


def grader_limits(settings: Settings, exercise: Exercise) -> SandboxLimits:
    """What the hidden suite's container may use (its own, not the learner's, limits)."""
    return SandboxLimits(
        test_seconds=exercise.limits.test_seconds,
        memory_bytes=settings.grader_memory_mb * MiB,
        cpus=settings.grader_cpus,
        pids=256,
        tmpfs_bytes=256 * MiB,
        output_bytes=_OUTPUT_CAP,
        fsize_bytes=64 * MiB,
    ).clamped()


def suite_mounts(grader_dir: Path, exercise_dir: Path) -> list[Mount]:
    """This exercise's folders only: no other exercise's grader is visible to the suite."""
    return [
        bind(grader_dir, "/grader"),
        bind(exercise_dir, "/exercise"),
        bind(PACKAGE_DIR, "/opt/servelab/servelab"),
    ]


class PreparedSuite:
    """The hidden suite's container, started beside the service's start-up (in a thread, so
    neither waits for the other's Docker calls); `run()` once the service is healthy."""

    def __init__(
        self,
        *,
        sandbox: Sandbox,
        settings: Settings,
        grader_dir: Path,
        exercise_dir: Path,
        exercise: Exercise,
        wait_seconds: float,
    ) -> None:
        grader_dir = Path(grader_dir).resolve()
        if not grader_dir.is_dir():
            raise SuiteError(f"grader suite folder {grader_dir} does not exist")
        self.sandbox = sandbox
        self.limits = grader_limits(settings, exercise)
        self._error: BaseException | None = None
        start = functools.partial(
            sandbox.start_grader,
            image=settings.grader_image,
            limits=self.limits,
            command=suite_command(
                budget_seconds=self.limits.test_seconds,
                hidden_parts=exercise.hidden_split,
                wait_seconds=wait_seconds,
            ),
            mounts=suite_mounts(grader_dir, Path(exercise_dir).resolve()),
            environment={
                "PYTHONPATH": "/opt/servelab",
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # only the plugins named in the command
                "NO_COLOR": "1",
                "LANG": "C.UTF-8",
            },
        )
        self._thread = threading.Thread(target=self._start, args=(start,), daemon=True)
        self._thread.start()

    def _start(self, start: Callable[[], None]) -> None:
        try:
            start()
        except BaseException as exc:  # re-raised by run(), in the pipeline's thread
            self._error = exc

    def settle(self) -> None:
        """Wait until the container is started (or failed to), so closing the sandbox finds it."""
        self._thread.join()

    def run(self) -> SuiteOutcome:
        """Grade the sandbox's healthy service; raises SuiteError on a platform/grader problem."""
        self.settle()
        if self._error is not None:
            raise self._error
        budget = self.limits.test_seconds
        run = self.sandbox.run_grader(seconds=budget + GRACE_SECONDS)
        return _outcome(run, budget)


def _outcome(run: GraderRun, budget: float) -> SuiteOutcome:
    """The document the suite wrote, judged by how its container ended."""
    stopped = run.reason if run.reason in ("timeout", "oom") else None
    try:
        doc = read_result_file(run.results / RESULTS_NAME)
    except ResultError as exc:
        raise SuiteError(_no_result(run, budget, exc), run.output) from exc
    if doc.suite_errors:
        raise SuiteError(
            "the hidden test suite has errors: " + doc.suite_errors[0][:500], run.output
        )
    if stopped is None and run.exit_code not in _SUITE_RAN:
        raise SuiteError(
            f"the hidden test suite stopped with pytest exit code {run.exit_code}", run.output
        )
    if not doc.tests:
        raise SuiteError("the hidden test suite collected no checks", run.output)
    update: dict[str, object] = {
        "execution_time": round(run.seconds, 3),
        "instructor_output": run.output,
    }
    if stopped is not None:
        update["complete"] = False
    # The plugin computed the totals (results.ResultDocument.with_totals, with the exercise's
    # labels); nothing here changes a score.
    return SuiteOutcome(doc.model_copy(update=update), stopped, run.seconds, run.timings)


def _no_result(run: GraderRun, budget: float, exc: ResultError) -> str:
    if run.reason == "timeout":
        return (
            f"the hidden test suite was stopped at its {budget + GRACE_SECONDS:g} s wall clock "
            f"before writing a result ({exc})"
        )
    if run.reason == "oom":
        return f"the hidden test suite ran out of memory before writing a result ({exc})"
    return f"{exc} (pytest exit code {run.exit_code})"
