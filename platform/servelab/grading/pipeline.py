"""One submission through the whole grading loop: prepare, train, start, test, clean up.

`failed` means the learner's code failed (with the relevant log excerpt); `error` means
the platform failed (the queue retries it; the learner is never blamed for it).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from servelab.content.errors import ContentErrors
from servelab.content.exercise import Exercise, load_exercise
from servelab.db.models.grading import SubmissionStatus
from servelab.grading import processes
from servelab.grading.archive import ArchiveError, copy_tree
from servelab.grading.results import ResultDocument
from servelab.grading.runner import PreparedSuite, SuiteError, SuiteOutcome
from servelab.grading.runtime import requirements_refusal
from servelab.settings import Settings

log = logging.getLogger("servelab.grading")

PhaseCallback = Callable[[SubmissionStatus], None]
REQUIRED_FILES = ("train.py", "main.py")
WORK_PREFIX = "job-"
_EXCERPT_CAP = 8_000


class UnknownExercise(Exception):
    """No exercises/<slug>/exercise.toml or graders/<slug>/ for this slug."""


@dataclass
class GradeOutcome:
    """The end of one grading run."""

    status: SubmissionStatus  # graded | failed | error
    result: ResultDocument | None = None
    learner_message: str = ""
    log_excerpt: str = ""  # the learner's own output when failed; diagnostics when error
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float | None:
        return self.result.score if self.result else None

    @property
    def max_score(self) -> float | None:
        return self.result.max_score if self.result else None


@dataclass(frozen=True)
class ExerciseFiles:
    slug: str
    exercise: Exercise
    exercise_dir: Path
    grader_dir: Path


def find_exercise(settings: Settings, slug: str) -> ExerciseFiles:
    """The exercise's settings and folders; raises UnknownExercise with a clear message."""
    if not slug or "/" in slug or slug.startswith("."):
        raise UnknownExercise(f"{slug!r} is not an exercise slug")
    exercise_dir = settings.exercises_dir / slug
    grader_dir = settings.graders_dir / slug
    toml = exercise_dir / "exercise.toml"
    if not toml.is_file():
        raise UnknownExercise(f"no exercise {slug!r}: {toml} does not exist")
    if not grader_dir.is_dir():
        raise UnknownExercise(f"exercise {slug!r} has no grader suite: {grader_dir} is missing")
    try:
        exercise = load_exercise(toml)
    except ContentErrors as exc:
        raise UnknownExercise(f"exercise {slug!r} is not valid:\n{exc}") from exc
    return ExerciseFiles(slug, exercise, exercise_dir.resolve(), grader_dir.resolve())


def hard_deadline_seconds(exercise: Exercise) -> float:
    """How long a job may stay running before the watchdog fails it over."""
    limits = exercise.limits
    return limits.train_seconds + limits.startup_seconds + limits.test_seconds + 120


def work_root(settings: Settings) -> Path:
    return settings.var_dir / "work"


def sweep_work_dirs(settings: Settings) -> int:
    """Remove job folders left by a process that died (its pid and start time are in the name)."""
    root = work_root(settings)
    removed = 0
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        if not folder.name.startswith(WORK_PREFIX):
            continue
        if processes.tag_alive(folder.name.removeprefix(WORK_PREFIX).split("-", 1)[0]):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


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


def _excerpt(text: str) -> str:
    if len(text) <= _EXCERPT_CAP:
        return text
    half = _EXCERPT_CAP // 2
    return f"{text[:half]}\n… [{len(text) - _EXCERPT_CAP} characters cut] …\n{text[-half:]}"


def submission_problem(folder: Path) -> str | None:
    """What makes an unpacked submission ungradable, said for the learner; None when fine.

    Checked when a submission is accepted (so nothing waits in the queue for nothing)
    and again by the pipeline before anything runs.
    """
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        return (
            f"Your submission has no {' or '.join(missing)}. ServeLab runs `python train.py`, "
            "then serves `app` from main.py; both files must be at the top of the folder."
        )
    return requirements_refusal(folder / "requirements.txt")


def _prepare(source_dir: Path, dest: Path) -> str | None:
    """Copy the submission into its own folder; a learner-facing problem, or None."""
    try:
        copy_tree(source_dir, dest)
    except ArchiveError as exc:
        return str(exc)
    return submission_problem(dest)


def grade_directory(
    source_dir: Path,
    exercise_slug: str,
    settings: Settings,
    *,
    on_phase: PhaseCallback | None = None,
    submission_id: int | None = None,
) -> GradeOutcome:
    """Grade the submission in source_dir against exercise_slug, cleaning up whatever happens."""
    from servelab.grading.sandbox import Sandbox, SandboxLimits

    notify = on_phase or (lambda _status: None)
    timer = _Timer()
    try:
        files = find_exercise(settings, exercise_slug)
    except UnknownExercise as exc:
        return GradeOutcome(SubmissionStatus.ERROR, log_excerpt=str(exc))

    if not Path(source_dir).is_dir():  # the stored files vanished: not the learner's doing
        return GradeOutcome(
            SubmissionStatus.ERROR, log_excerpt=f"submission folder {source_dir} is missing"
        )
    work_root(settings).mkdir(parents=True, exist_ok=True)
    tag = f"{processes.process_tag()}-{submission_id or 'local'}-"
    work_dir = Path(tempfile.mkdtemp(prefix=WORK_PREFIX + tag, dir=work_root(settings)))
    try:
        notify(SubmissionStatus.PREPARING)
        with timer("prepare"):
            source = work_dir / "src"
            problem = _prepare(Path(source_dir), source)
        if problem:
            return GradeOutcome(
                SubmissionStatus.FAILED, learner_message=problem, phase_seconds=timer.seconds
            )

        labels = {"servelab.submission": str(submission_id or "local")}
        with timer("sandbox_create"):
            sandbox = Sandbox(
                source_dir=source,
                data_dir=files.exercise_dir / "data",
                work_dir=work_dir,
                limits=SandboxLimits.from_exercise(files.exercise.limits),
                image=settings.runtime_image,
                labels=labels,
                health_path=files.exercise.health_path,
                runtime=settings.sandbox_runtime,
            )
        prepared: PreparedSuite | None = None
        try:
            notify(SubmissionStatus.TRAINING)
            phase = sandbox.train()
            _record_phase(timer, "train", phase.seconds, phase.timings)
            if not phase.ok:
                return _learner_failed(phase, timer)

            notify(SubmissionStatus.STARTING)
            # The suite's container starts now and gets ready while the service starts.
            prepared = PreparedSuite(
                sandbox=sandbox,
                settings=settings,
                grader_dir=files.grader_dir,
                exercise_dir=files.exercise_dir,
                exercise=files.exercise,
                wait_seconds=files.exercise.limits.startup_seconds + 30,
            )
            phase = sandbox.start_service()
            _record_phase(timer, "startup", phase.seconds, phase.timings)
            if not phase.ok:
                return _learner_failed(phase, timer)

            notify(SubmissionStatus.TESTING)
            suite = prepared.run()
            _record_phase(timer, "test", suite.seconds, suite.timings)
            alive = sandbox.service_alive()
            service_log = _excerpt(alive.output or sandbox.service_output())
        finally:
            if prepared is not None:
                prepared.settle()  # a container still being created must not outlive close()
            with timer("cleanup"):
                sandbox.close()
        return GradeOutcome(
            SubmissionStatus.GRADED,
            result=suite.doc,
            learner_message=_graded_message(suite, alive.message if not alive.ok else ""),
            log_excerpt=service_log,
            phase_seconds=timer.seconds,
        )
    except SuiteError as exc:
        log.error("hidden suite failed for %s: %s", exercise_slug, exc.message)
        return GradeOutcome(
            SubmissionStatus.ERROR,
            log_excerpt=_excerpt(f"{exc.message}\n{exc.output}"),
            phase_seconds=timer.seconds,
        )
    except Exception as exc:  # a platform failure: logged in full, retried by the queue
        log.exception("grading failed on the platform side for %s", exercise_slug)
        return GradeOutcome(
            SubmissionStatus.ERROR,
            log_excerpt=f"{type(exc).__name__}: {exc}"[:_EXCERPT_CAP],
            phase_seconds=timer.seconds,
        )
    finally:
        with timer("cleanup"):
            shutil.rmtree(work_dir, ignore_errors=True)


def _record_phase(timer: _Timer, name: str, seconds: float, timings: dict[str, float]) -> None:
    """The phase's own time in its container, and the platform's container overheads."""
    timer.add(name, seconds)
    for step, step_seconds in timings.items():
        if step != "run":
            timer.add(f"{name}_{step}", step_seconds)


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


def _learner_failed(phase, timer: _Timer) -> GradeOutcome:  # type: ignore[no-untyped-def]
    return GradeOutcome(
        SubmissionStatus.FAILED,
        learner_message=phase.message,
        log_excerpt=_excerpt(phase.output),
        phase_seconds=timer.seconds,
    )
