"""CLI: grade, worker (and runtime build/check). Owned by the grading engine."""

from __future__ import annotations

import json
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from servelab.cli.result_display import PHASE_TEXT, print_result
from servelab.content.errors import ContentErrors
from servelab.content.loader import ExerciseFiles, UnknownExercise, load_settings_course
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.archive import ArchiveError, extract_zip
from servelab.grading.outcome import GradeOutcome
from servelab.grading.pipeline import grade_directory
from servelab.settings import Settings, get_settings

EXIT_FAILED = 1
EXIT_ERROR = 2


def grade(
    directory: Annotated[
        Path, typer.Argument(help="folder with train.py and main.py (or a submission .zip)")
    ],
    exercise: Annotated[str, typer.Option("--exercise", "-e", help="exercise slug")],
    as_json: Annotated[bool, typer.Option("--json", help="print the result document")] = False,
) -> None:
    """Grade a folder (or .zip) locally through the same sandboxed pipeline as the web app.

    Exits 0 when graded (whatever the score), 1 when the code failed, 2 on a platform error.
    """
    settings = get_settings()
    err = Console(stderr=True, soft_wrap=True)
    try:
        files = load_settings_course(settings).find_exercise(exercise, for_grading=True)
    except (ContentErrors, UnknownExercise) as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(EXIT_ERROR) from None
    if directory.is_file() and directory.suffix == ".zip":
        with tempfile.TemporaryDirectory(prefix="servelab-zip-") as unpacked:
            try:
                extract_zip(directory.read_bytes(), Path(unpacked))
            except ArchiveError as exc:
                err.print(f"[red]The archive was refused:[/red] {escape(str(exc))}")
                raise typer.Exit(EXIT_FAILED) from None
            _grade_and_report(Path(unpacked), files, settings, as_json, err)
        return
    if not directory.is_dir():
        err.print(f"[red]{directory} is not a folder.[/red] Give the folder holding train.py.")
        raise typer.Exit(EXIT_ERROR)
    _grade_and_report(directory, files, settings, as_json, err)


def _grade_and_report(
    directory: Path, files: ExerciseFiles, settings: Settings, as_json: bool, err: Console
) -> None:
    if as_json:
        outcome = grade_directory(directory, files, settings)
        typer.echo(_json_outcome(outcome))
    else:
        outcome = _grade_live(directory, files, settings, err)
        _print_outcome(outcome, Console())
    if outcome.status == SubmissionStatus.FAILED:
        raise typer.Exit(EXIT_FAILED)
    if outcome.status == SubmissionStatus.ERROR:
        raise typer.Exit(EXIT_ERROR)


class _PhaseLog:
    """Prints each finished phase with its duration while the spinner shows the current one."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.phase: str | None = None
        self.started = time.monotonic()

    def begin(self, phase: str) -> None:
        self.end(ok=True)
        self.phase, self.started = phase, time.monotonic()

    def end(self, *, ok: bool) -> None:
        if self.phase is None:
            return
        if ok:
            seconds = time.monotonic() - self.started
            self.console.print(f"  [green]✓[/green] {self.phase} [dim]{seconds:.1f} s[/dim]")
        else:
            self.console.print(f"  [red]✗[/red] {self.phase}")
        self.phase = None


def _grade_live(
    directory: Path, files: ExerciseFiles, settings: Settings, console: Console
) -> GradeOutcome:
    phases = _PhaseLog(console)
    with console.status("Starting…") as status:

        def on_phase(phase: SubmissionStatus) -> None:
            phases.begin(phase.value)
            status.update(PHASE_TEXT.get(phase, phase.value) + "…")

        outcome = grade_directory(directory, files, settings, on_phase=on_phase)
    phases.end(ok=outcome.status == SubmissionStatus.GRADED)
    return outcome


def _json_outcome(outcome: GradeOutcome) -> str:
    if outcome.result is not None:
        return outcome.result.model_dump_json(indent=2)
    return json.dumps(
        {
            "status": outcome.status.value,
            "message": outcome.learner_message,
            "log_excerpt": outcome.log_excerpt,
            "phase_seconds": outcome.phase_seconds,
        },
        indent=2,
    )


def _print_outcome(outcome: GradeOutcome, console: Console) -> None:
    if outcome.status == SubmissionStatus.ERROR:
        console.print("[red bold]Platform error[/red bold]: ServeLab could not grade this folder.")
        console.print(outcome.log_excerpt, markup=False)
        return
    if outcome.status == SubmissionStatus.FAILED:
        console.print("[red bold]Failed[/red bold]: " + escape(outcome.learner_message))
        if outcome.log_excerpt:
            console.rule("log excerpt")
            console.print(outcome.log_excerpt, markup=False, highlight=False)
        return
    assert outcome.result is not None
    print_result(outcome.result, console)
    console.print(escape(outcome.learner_message))
    phases = ", ".join(f"{k} {v:.2f} s" for k, v in outcome.phase_seconds.items())
    console.print(f"[dim]{phases}[/dim]")


def worker(
    size: Annotated[
        int, typer.Option(help="gradings at once (0: settings.worker_count, default the cores)")
    ] = 0,
) -> None:
    """Run grading workers in the foreground until interrupted; drains running jobs on exit.

    With SERVELAB_QUEUE_BACKEND=celery this is a Celery worker taking submissions from Redis;
    otherwise worker threads polling the database queue.
    """
    from servelab.db.engine import make_engine
    from servelab.grading.worker import WorkerPool

    settings = get_settings()
    try:
        course = load_settings_course(settings)
    except ContentErrors as exc:
        Console(stderr=True).print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(EXIT_ERROR) from None
    if settings.queue_backend == "celery":
        from servelab.grading.tasks import run_celery_worker

        concurrency = size or settings.worker_count
        typer.echo(f"Celery grading worker with {concurrency} process(es) on {settings.redis_url}")
        raise typer.Exit(run_celery_worker(settings, course, concurrency=concurrency))
    engine = make_engine(settings)
    pool = WorkerPool(settings, engine, course, size=size or None)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    pool.start()
    typer.echo(f"{pool.size} grading worker(s) running; Ctrl-C to drain and stop.")
    stop.wait()
    typer.echo("Draining: waiting for running jobs to finish…")
    pool.stop()
    engine.dispose()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("grade")(grade)
    app.command("worker")(worker)
