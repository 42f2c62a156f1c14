"""How the CLI shows a result document: the checks table, recorded tables, totals, a summary
line. `servelab grade` (a local grading) and `servelab submit` (a learner's view from a server)
print results the same way."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from servelab.db.models.grading import SubmissionStatus
from servelab.grading.results import Cell, ResultDocument

PHASE_TEXT: dict[str, str] = {
    SubmissionStatus.QUEUED: "Queued (waiting for a grading worker)",
    SubmissionStatus.PREPARING: "Preparing (copying the folder, checking requirements.txt)",
    SubmissionStatus.TRAINING: "Training (python train.py in the sandbox)",
    SubmissionStatus.STARTING: "Starting the service (waiting until it is healthy)",
    SubmissionStatus.TESTING: "Testing (running the hidden checks)",
}
# C0 controls but tab and newline, and DEL: text from a server (or a learner's program) must
# not move the cursor or recolour the terminal. Rich strips only a few of them itself.
_CONTROLS = {code: "\ufffd" for code in (*range(0x09), *range(0x0B, 0x20), 0x7F)}


def terminal_text(text: str) -> str:
    """`text` safe to print: markup escaped, control characters shown as U+FFFD."""
    return escape(text.translate(_CONTROLS))


def print_result(doc: ResultDocument, console: Console) -> None:
    """The checks, each check's tables, the score per category and the summary line."""
    console.print(_result_table(doc))
    for test in doc.tests:
        for recorded in test.tables:
            console.print(
                f"[bold]{terminal_text(test.name)}[/bold]: {terminal_text(recorded.name)}"
            )
            console.print(_recorded_table(recorded.rows))
    for total in doc.categories:
        console.print(f"  {terminal_text(total.label)}: {total.score:g} / {total.max_score:g}")
    console.print(f"[bold]{summary(doc)}[/bold]")


def summary(doc: ResultDocument) -> str:
    """The grade in one line, and the feedback part's score beside it when the data is split."""
    passed = sum(t.status == "passed" for t in doc.tests)
    line = (
        f"Graded: {doc.score:g} of {doc.max_score:g} points "
        f"({passed} of {len(doc.tests)} checks passed)."
    )
    if doc.feedback_score is not None and doc.feedback_max_score is not None:
        line += (
            f" On the feedback part, which learners see until the due date: "
            f"{doc.feedback_score:g} of {doc.feedback_max_score:g}."
        )
    if not doc.complete:
        line += " The suite was stopped before every check had run."
    return line


def _result_table(doc: ResultDocument) -> Table:
    table = Table(title="Checks", show_lines=False)
    table.add_column("Category")
    table.add_column("Check")
    table.add_column("Score", justify="right")
    table.add_column("Feedback")
    for test in doc.tests:
        mark = "[green]✓[/green]" if test.status == "passed" else "[red]✗[/red]"
        name = terminal_text(test.name)
        if test.visibility != "visible":
            name += f" [dim]({test.visibility})[/dim]"
        table.add_row(
            terminal_text(test.category),
            f"{mark} {name}",
            f"{test.score:g}/{test.max_score:g}",
            terminal_text(test.output),
        )
    return table


def _recorded_table(rows: list[dict[str, Cell]]) -> Table:
    table = Table()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    for column in columns:
        table.add_column(terminal_text(column))
    for row in rows:
        table.add_row(
            *(terminal_text("" if row.get(c) is None else str(row.get(c))) for c in columns)
        )
    return table
