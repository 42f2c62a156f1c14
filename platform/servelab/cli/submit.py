"""CLI: `servelab submit`: a learner's folder to a ServeLab server, followed to its result.

The learner's side of the API: the folder is checked and zipped here under the server's own
archive rules (client.pack_folder), uploaded with the learner's API token, followed phase by
phase, and its result printed as the learner sees it on the web (the API sends only
`results.learner_view`). Progress and errors go to stderr, the result to stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from servelab.cli.grading import EXIT_ERROR, EXIT_FAILED
from servelab.cli.result_display import PHASE_TEXT, print_result, terminal_text
from servelab.client import (
    ClientError,
    Failure,
    PackedSubmission,
    ServeLabClient,
    checked_server_url,
    checked_token,
    pack_folder,
)
from servelab.db.models.grading import SubmissionStatus
from servelab.grading.archive import ArchiveError
from servelab.web.api_schemas import SubmissionPublic

EXIT_TIMEOUT = 3
EXIT_STOPPED = 130  # Ctrl-C, as shells report SIGINT
DEFAULT_TIMEOUT_SECONDS = 600
_EXIT = {
    Failure.REFUSED: EXIT_FAILED,
    Failure.TOKEN: EXIT_ERROR,
    Failure.UNREACHABLE: EXIT_ERROR,
    Failure.SERVER: EXIT_ERROR,
    Failure.TIMEOUT: EXIT_TIMEOUT,
    Failure.STOPPED: EXIT_STOPPED,
}
# By the final status (a plain string from the server: an unknown one is an error).
_FINAL_EXIT: dict[str, int] = {SubmissionStatus.GRADED: 0, SubmissionStatus.FAILED: EXIT_FAILED}


def submit(
    directory: Annotated[Path, typer.Argument(help="folder with train.py and main.py")],
    exercise: Annotated[str, typer.Option("--exercise", "-e", help="exercise slug")],
    server: Annotated[
        str, typer.Option("--server", help="the server's address, e.g. https://servelab.example")
    ],
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SERVELAB_TOKEN",
            show_envvar=True,
            show_default=False,
            help="your API token (from /account); prefer the variable: a command line is "
            "visible to others on the machine",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=1, max=86400, help="seconds to wait in all; the grading goes on"
        ),
    ] = DEFAULT_TIMEOUT_SECONDS,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the submission (API shape) as JSON")
    ] = False,
    allow_http: Annotated[
        bool, typer.Option("--allow-http", help="send the token over plain http:// anyway")
    ] = False,
) -> None:
    """Submit a folder to a ServeLab server, follow its grading and print the result.

    Exits 0 when graded (whatever the score), 1 when the code failed or the submission was
    refused, 2 on a platform error (or a wrong token, or no server), 3 when --timeout ran out.
    """
    err = Console(stderr=True, soft_wrap=True)
    try:
        url = checked_server_url(server, allow_http=allow_http)
        secret = checked_token(token)
        with ServeLabClient(url, secret, total_seconds=timeout) as client:
            final = _submit_and_follow(client, directory, exercise, err, quiet=as_json)
            page = client.page_url(final)
    except ClientError as exc:
        _report_failure(exc, err, as_json)
        raise typer.Exit(_EXIT[exc.kind]) from None
    if as_json:
        typer.echo(final.model_dump_json(indent=2))
    else:
        _print_final(final, page, Console(soft_wrap=True))
    if final.status != SubmissionStatus.GRADED:
        raise typer.Exit(_FINAL_EXIT.get(final.status, EXIT_ERROR))


def _submit_and_follow(
    client: ServeLabClient, directory: Path, exercise: str, err: Console, *, quiet: bool
) -> SubmissionPublic:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task("Checking the folder…")
        packed = _packed(directory)
        progress.update(task, description=f"Connecting to {terminal_text(str(client.server))}…")
        who = client.me()
        progress.update(task, description=f"Uploading {_size(packed)}…")
        submission = client.submit(exercise, packed)
        phases = _PhaseLines(progress, task, quiet=quiet)
        phases.say(
            f"Submitted {len(packed.files)} files ({_size(packed)}) to {terminal_text(exercise)}"
            f" as {terminal_text(who.email)}: submission {submission.id}, "
            f"{terminal_text(client.page_url(submission))}"
        )
        phases.update(submission)
        try:
            return client.follow(submission, on_update=phases.update)
        except KeyboardInterrupt:
            raise ClientError(
                Failure.STOPPED,
                f"Stopped following; the submission goes on on the server. Follow it at "
                f"{client.page_url(submission)}.",
                submission=submission,
            ) from None


def _packed(directory: Path) -> PackedSubmission:
    if not directory.is_dir():
        raise ClientError(
            Failure.REFUSED, f"{directory} is not a folder. Give the folder holding train.py."
        )
    try:
        return pack_folder(directory)
    except ArchiveError as exc:
        raise ClientError(Failure.REFUSED, f"Nothing was uploaded: {exc}") from None


def _size(packed: PackedSubmission) -> str:
    return f"{len(packed.data) / 1024:.1f} KiB"


class _PhaseLines:
    """One line per finished phase, timed by the server's own timestamps; the spinner shows
    the current phase."""

    def __init__(self, progress: Progress, task: TaskID, *, quiet: bool) -> None:
        self.progress, self.task, self.quiet = progress, task, quiet
        self.printed = 0  # events whose phase has its line

    def say(self, text: str) -> None:
        if not self.quiet:
            self.progress.console.print(text, highlight=False)

    def update(self, submission: SubmissionPublic) -> None:
        events = submission.events
        for done, after in zip(events[self.printed :], events[self.printed + 1 :], strict=False):
            seconds = (after.at - done.at).total_seconds()
            failed = after.status in (SubmissionStatus.FAILED, SubmissionStatus.ERROR)
            mark = "[red]✗[/red]" if failed else "[green]✓[/green]"
            self.say(f"  {mark} {terminal_text(done.status)} [dim]{seconds:.1f} s[/dim]")
        self.printed = max(len(events) - 1, self.printed)
        text = PHASE_TEXT.get(submission.status, terminal_text(submission.status))
        if submission.queued_ahead:
            text += f", {submission.queued_ahead} ahead"
        self.progress.update(self.task, description=text + "…")


def _print_final(submission: SubmissionPublic, page: str, out: Console) -> None:
    message = terminal_text(submission.message)
    if submission.status == SubmissionStatus.GRADED:
        if submission.result is not None:
            print_result(submission.result, out)
        else:
            out.print(f"[bold]Graded: {submission.score:g} of {submission.max_score:g}[/bold]")
        if message:
            out.print(message)
        phases = ", ".join(f"{k} {v:.2f} s" for k, v in submission.phase_seconds.items())
        out.print(f"[dim]{phases}[/dim]")
    elif submission.status == SubmissionStatus.FAILED:
        out.print(f"[red bold]Failed[/red bold]: {message}")
        if submission.log_excerpt:
            out.rule("log excerpt")
            out.print(terminal_text(submission.log_excerpt), highlight=False)
    else:
        out.print(f"[red bold]Platform error[/red bold]: ServeLab could not grade it. {message}")
    out.print(f"Submission {submission.id}: {terminal_text(page)}", highlight=False)


def _report_failure(exc: ClientError, err: Console, as_json: bool) -> None:
    if as_json:
        seen = exc.submission.model_dump(mode="json") if exc.submission else None
        error = {"kind": exc.kind.value, "message": exc.message, "status_code": exc.status_code}
        typer.echo(json.dumps({"error": error, "submission": seen}, indent=2))
    err.print(f"[red]{terminal_text(exc.message)}[/red]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's command to the root app."""
    app.command("submit")(submit)
