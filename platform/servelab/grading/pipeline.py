"""Grading one directory: prepare, train, start, test, clean up, whatever happens.

The caller finds the exercise (`Course.find_exercise(slug, for_grading=True)`) and stores the
`GradeOutcome`: the worker for a queued submission, `servelab grade` and the self-test locally.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from servelab.content.loader import ExerciseFiles
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.archive import ArchiveError, copy_tree
from servelab.grading.intake import submission_problem
from servelab.grading.limits import SandboxLimits
from servelab.grading.orphans import new_job_folder
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import ResultStatus
from servelab.grading.runner import PreparedSuite, SuiteError, SuiteOutcome
from servelab.grading.sandbox import PhaseResult, Sandbox
from servelab.grading.truncate import cap_text
from servelab.settings import Settings

log = logging.getLogger("servelab.grading")

PhaseCallback = Callable[[SubmissionStatus], None]
_EXCERPT_CAP = 8_000


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(phase, time.monotonic() - started)

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + seconds, 3)

    def record(self, name: str, seconds: float, timings: dict[str, float]) -> None:
        """A phase's own time in its container, and the platform's container overheads."""
        self.add(name, seconds)
        for step, step_seconds in timings.items():
            if step != "run":
                self.add(f"{name}_{step}", step_seconds)


def _prepare(source_dir: Path, dest: Path) -> str | None:
    """Copy the submission into its own folder; a learner-facing problem, or None."""
    try:
        copy_tree(source_dir, dest)
    except ArchiveError as exc:
        return str(exc)
    return submission_problem(dest)


def grade_directory(
    source_dir: Path,
    exercise: ExerciseFiles,
    settings: Settings,
    *,
    on_phase: PhaseCallback | None = None,
    submission_id: int | None = None,
) -> GradeOutcome:
    """Grade the submission in source_dir against `exercise`, cleaning up whatever happens."""
    notify = on_phase or (lambda _status: None)
    timer = _Timer()
    if not Path(source_dir).is_dir():  # the stored files vanished: not the learner's doing
        return GradeOutcome(
            SubmissionStatus.ERROR, log_excerpt=f"submission folder {source_dir} is missing"
        )
    work_dir = new_job_folder(settings, submission_id)
    try:
        notify(SubmissionStatus.PREPARING)
        with timer("prepare"):
            source = work_dir / "src"
            problem = _prepare(Path(source_dir), source)
        if problem:
            return GradeOutcome(
                SubmissionStatus.FAILED, learner_message=problem, phase_seconds=timer.seconds
            )
        with timer("sandbox_create"):
            sandbox = Sandbox(
                source_dir=source,
                data_dir=exercise.data_dir,
                work_dir=work_dir,
                limits=SandboxLimits.from_exercise(exercise.exercise.limits),
                image=settings.runtime_image,
                labels={"servelab.submission": str(submission_id or "local")},
                health_path=exercise.exercise.health_path,
                runtime=settings.sandbox_runtime,
            )
        return _run(sandbox, exercise, settings, notify, timer)
    except SuiteError as exc:
        log.error("hidden suite failed for %s: %s", exercise.slug, exc.message)
        return GradeOutcome(
            SubmissionStatus.ERROR,
            log_excerpt=cap_text(f"{exc.message}\n{exc.output}", _EXCERPT_CAP),
            phase_seconds=timer.seconds,
        )
    except Exception as exc:  # a platform failure: logged in full, retried by the queue
        log.exception("grading failed on the platform side for %s", exercise.slug)
        return GradeOutcome(
            SubmissionStatus.ERROR,
            log_excerpt=cap_text(f"{type(exc).__name__}: {exc}", _EXCERPT_CAP),
            phase_seconds=timer.seconds,
        )
    finally:
        with timer("cleanup"):
            shutil.rmtree(work_dir, ignore_errors=True)


def _run(
    sandbox: Sandbox,
    exercise: ExerciseFiles,
    settings: Settings,
    notify: PhaseCallback,
    timer: _Timer,
) -> GradeOutcome:
    """Train, start and test in the sandbox; the sandbox is closed whatever happens."""
    prepared: PreparedSuite | None = None
    try:
        notify(SubmissionStatus.TRAINING)
        phase = sandbox.train()
        timer.record("train", phase.seconds, phase.timings)
        if not phase.ok:
            return _learner_failed(phase, timer)  # its log excerpt is the training output
        train_log = cap_text(phase.output, _EXCERPT_CAP)

        notify(SubmissionStatus.STARTING)
        # The suite's container starts now and gets ready while the service starts.
        prepared = PreparedSuite(
            sandbox=sandbox,
            settings=settings,
            grader_dir=exercise.grader_dir,
            exercise_dir=exercise.exercise_dir,
            exercise=exercise.exercise,
            wait_seconds=exercise.exercise.limits.startup_seconds + 30,
        )
        phase = sandbox.start_service()
        timer.record("startup", phase.seconds, phase.timings)
        if not phase.ok:
            return _learner_failed(phase, timer, train_log=train_log)

        notify(SubmissionStatus.TESTING)
        suite = prepared.run()
        timer.record("test", suite.seconds, suite.timings)
        alive = sandbox.service_alive()
        service_log = cap_text(alive.output or sandbox.service_output(), _EXCERPT_CAP)
    finally:
        if prepared is not None:
            prepared.settle()  # a container still being created must not outlive close()
        with timer("cleanup"):
            sandbox.close()
    return GradeOutcome(
        SubmissionStatus.GRADED,
        result=suite.doc.model_copy(update={"status": ResultStatus.GRADED}),
        learner_message=_graded_message(suite, alive.message if not alive.ok else ""),
        log_excerpt=service_log,
        train_log=train_log,
        phase_seconds=timer.seconds,
    )


def _graded_message(suite: SuiteOutcome, service_problem: str) -> str:
    """What the learner reads beside the checks. No score or count here: which part of split
    hidden data a learner may see depends on the due date, so those come from the view."""
    message = "Graded: each check below says what it found."
    if suite.stopped == "timeout":
        message += (
            " The checks ran out of time before all of them had finished; those not run count "
            "as failed. Each check says whether your service answered slowly."
        )
    elif suite.stopped == "oom":
        message += (
            " The checks ran out of memory before all of them had finished; those not run count "
            "as failed. Send only what the contract asks for: very large answers are refused."
        )
    if service_problem:  # e.g. it ran out of memory under the checks: say why checks failed
        message += "\n" + service_problem
    return message


def _learner_failed(phase: PhaseResult, timer: _Timer, *, train_log: str = "") -> GradeOutcome:
    return GradeOutcome(
        SubmissionStatus.FAILED,
        learner_message=phase.message,
        log_excerpt=cap_text(phase.output, _EXCERPT_CAP),
        train_log=train_log,
        phase_seconds=timer.seconds,
    )
