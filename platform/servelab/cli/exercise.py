"""CLI: exercise selftest/new. Owned by the flagship exercise."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from servelab.cli.coverage_display import matrix_json, print_matrix
from servelab.content.errors import ContentErrors
from servelab.content.loader import load_settings_course
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.coverage import (
    CoverageMatrix,
    MarkdownBlockError,
    matrix_from_report,
    render_markdown,
    replace_markdown_block,
)
from servelab.grading.coverage_store import store_matrix
from servelab.grading.scaffold import ScaffoldError, create_exercise
from servelab.grading.selftest import Candidate, SelftestReport, Verdict, run_selftest
from servelab.settings import get_settings

exercise_app = typer.Typer(help="Author exercises: scaffold new ones, self-test their graders.")
EXIT_SURPRISE = 1
EXIT_USAGE = 2


@exercise_app.command("selftest")
def selftest(
    slug: Annotated[str, typer.Argument(help="exercise slug (folder under exercises/)")],
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="grade only this candidate (solution, starter, a mutant)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdicts as JSON")] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            min=1,
            max=16,
            help="candidates graded at once (each holds the exercise's CPU and memory limits)",
        ),
    ] = 1,
    matrix: Annotated[
        bool,
        typer.Option(
            "--matrix",
            help="also show which mutants each check kills, and keep it for the instructor pages",
        ),
    ] = False,
    matrix_markdown: Annotated[
        Path | None,
        typer.Option(
            "--matrix-markdown",
            metavar="PATH",
            dir_okay=False,
            help="write the matrix as Markdown to PATH (a new file, or replace the coverage "
            "block of an existing one such as CALIBRATION.md); implies --matrix",
        ),
    ] = None,
) -> None:
    """Grade the reference, every mutant and the starter through the real pipeline.

    The reference must score full marks; each mutant must fail exactly the checks its
    mutant.toml declares; the starter must pass some checks and fail others. Exits 1 on
    any surprise. With --matrix: which mutants each check kills (a check that kills none is
    suspect, a mutant only one check kills is fragile).
    """
    err = Console(stderr=True)
    if matrix_markdown is not None and only:
        err.print("[red]--matrix-markdown needs every mutant: leave out --only.[/red]")
        raise typer.Exit(EXIT_USAGE)
    console = Console(stderr=as_json)
    report = _run_with_progress(slug, only or None, console, jobs=jobs)
    coverage = matrix_from_report(report) if matrix or matrix_markdown else None
    if as_json:
        document = _report_json(report)
        if matrix or matrix_markdown:
            document["matrix"] = matrix_json(coverage) if coverage else None
        typer.echo(json.dumps(document, indent=2))
    else:
        _print_report(report, console)
        if coverage is not None:
            print_matrix(coverage, console)
    if coverage is not None and not only:
        _keep_matrix(coverage, report.ok, matrix_markdown, err)
    elif (matrix or matrix_markdown) and coverage is None:
        err.print("[yellow]No coverage matrix: the reference solution was not graded.[/yellow]")
    if not report.ok:
        raise typer.Exit(EXIT_SURPRISE)


def _keep_matrix(
    coverage: CoverageMatrix, selftest_ok: bool, markdown: Path | None, err: Console
) -> None:
    """Store the matrix for the coverage page and write the Markdown file if asked (a partial
    run, with --only, is neither: it would hide the mutants it left out)."""
    stored = store_matrix(get_settings(), coverage, selftest_ok=selftest_ok)
    err.print(f"[dim]coverage matrix kept in {escape(str(stored))} for the instructor pages[/dim]")
    if markdown is None:
        return
    block = render_markdown(coverage)
    try:
        text = replace_markdown_block(markdown.read_text(encoding="utf-8"), block)
    except FileNotFoundError:
        text = block
    except MarkdownBlockError as exc:
        err.print(f"[red]{escape(str(markdown))}: {escape(str(exc))}[/red]")
        raise typer.Exit(EXIT_USAGE) from None
    markdown.write_text(text, encoding="utf-8")
    err.print(f"coverage matrix written to {escape(str(markdown))}")


def _run_with_progress(
    slug: str, only: list[str] | None, console: Console, *, jobs: int
) -> SelftestReport:
    settings = get_settings()
    try:
        course = load_settings_course(settings)
    except ContentErrors as exc:
        return SelftestReport(slug, [], problems=[str(error) for error in exc.errors])
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.fields[phase]}[/dim]"),
        TimeElapsedColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=console, transient=False) as progress:

        def on_start(candidate: Candidate) -> None:
            tasks[candidate.name] = progress.add_task(
                f"{candidate.kind.value:9} {escape(candidate.name)}", total=1, phase="queued"
            )

        def on_phase(candidate: Candidate, status: SubmissionStatus) -> None:
            progress.update(tasks[candidate.name], phase=status.value)

        def on_done(verdict: Verdict) -> None:
            mark = "[green]as expected[/green]" if verdict.ok else "[red]SURPRISE[/red]"
            progress.update(
                tasks[verdict.candidate.name], completed=1, phase=f"{verdict.status.value}, {mark}"
            )

        return run_selftest(
            settings,
            course,
            slug,
            only=only,
            jobs=jobs,
            on_start=on_start,
            on_phase=on_phase,
            on_done=on_done,
        )


def _score(verdict: Verdict) -> str:
    if verdict.score is None:
        return "-"
    return f"{verdict.score:g}/{verdict.max_score:g}"


def _print_report(report: SelftestReport, console: Console) -> None:
    for problem in report.problems:
        console.print(f"[red]{escape(problem)}[/red]")
    if report.verdicts:
        table = Table(title=f"Grader self-test: {escape(report.slug)}")
        table.add_column("Candidate")
        table.add_column("Expected")
        table.add_column("Status")
        table.add_column("Score", justify="right")
        table.add_column("Failed checks")
        table.add_column("Verdict")
        for v in report.verdicts:
            verdict = "[green]ok[/green]" if v.ok else "[red]" + escape("; ".join(v.surprises))
            table.add_row(
                f"{escape(v.candidate.name)} [dim]({v.candidate.kind.value})[/dim]",
                v.candidate.expectation,
                v.status.value,
                _score(v),
                escape(", ".join(v.failed_checks)) or "[dim]none[/dim]",
                verdict,
            )
        console.print(table)
        seconds = sum(v.seconds for v in report.verdicts)
        console.print(f"[dim]{len(report.verdicts)} gradings in {seconds:.0f} s[/dim]")
    if report.ok:
        console.print("[green bold]Self-test passed:[/green bold] every candidate as expected.")
    elif report.problems and not report.verdicts:
        console.print("[red bold]Self-test did not run:[/red bold] see the problems above.")
    else:
        console.print("[red bold]Self-test failed:[/red bold] see the surprises above.")


def _report_json(report: SelftestReport) -> dict[str, object]:
    return {
        "slug": report.slug,
        "ok": report.ok,
        "problems": report.problems,
        "verdicts": [
            {
                "name": v.candidate.name,
                "kind": v.candidate.kind.value,
                "expected": v.candidate.expectation,
                "status": v.status.value,
                "score": v.score,
                "max_score": v.max_score,
                "failed_checks": v.failed_checks,
                "surprises": v.surprises,
                "seconds": round(v.seconds, 2),
            }
            for v in report.verdicts
        ],
    }


@exercise_app.command("new")
def new(
    slug: Annotated[str, typer.Argument(help="the new exercise's slug, e.g. batch-inference")],
    title: Annotated[str | None, typer.Option(help="title shown to learners")] = None,
    order: Annotated[
        int | None,
        typer.Option(help="the lesson's place on the course index (default: after the last)"),
    ] = None,
) -> None:
    """Scaffold exercises/SLUG and graders/SLUG; they pass content check and selftest as is."""
    settings = get_settings()
    started = time.monotonic()
    try:
        written = create_exercise(
            exercises_dir=settings.exercises_dir,
            graders_dir=settings.graders_dir,
            slug=slug,
            title=title,
            order=order,
        )
    except ScaffoldError as exc:
        Console(stderr=True).print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    console = Console()
    for path in written:
        console.print(f"  created {escape(str(path))}")
    console.print(
        f"[green]Created exercise {escape(slug)}[/green] ({len(written)} files, "
        f"{time.monotonic() - started:.1f} s). Next: edit the lesson and exercise page, then "
        f"`servelab content check` and `servelab exercise selftest {escape(slug)}`."
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(exercise_app, name="exercise")
