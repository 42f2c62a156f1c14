"""How `servelab exercise selftest --matrix` shows the coverage matrix: a Rich table in a
terminal, the Markdown block of CALIBRATION.md otherwise (so it pipes into a file as is), and
a JSON object under `--json`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from servelab.cli.result_display import terminal_text
from servelab.grading.coverage import MARK, Cell, CoverageMatrix, findings, render_markdown

_STYLE = {Cell.KILLED: "bold green", Cell.SURVIVED: "dim", Cell.NOT_RUN: "dim"}


def print_matrix(matrix: CoverageMatrix, console: Console) -> None:
    if not console.is_terminal:
        console.print(render_markdown(matrix), markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Grader coverage: {terminal_text(matrix.slug)}", caption=_legend())
    table.add_column("Check")
    for mutant in matrix.mutants:
        table.add_column(terminal_text(mutant.name), justify="center")
    table.add_column("Kills", justify="right")
    suspects = set(matrix.suspect_checks)
    for row in matrix.rows:
        kills = len(matrix.kills(row.check))
        name = terminal_text(row.check)
        if row.check in suspects:
            name, kills_text = f"[yellow]{name}[/yellow]", f"[yellow]{kills} suspect[/yellow]"
        elif not row.reference_passed:
            name, kills_text = f"[red]{name}[/red]", "[red]reference fails[/red]"
        else:
            kills_text = str(kills)
        marks = [f"[{_STYLE[c]}]{MARK[c]}[/{_STYLE[c]}]" for c in row.cells]
        table.add_row(name, *marks, kills_text)
    fragile = matrix.fragile_mutants
    table.add_section()
    table.add_row(
        "[bold]killed by[/bold]",
        *[_killed_by(matrix, m.name, m.name in fragile) for m in matrix.mutants],
        "",
    )
    console.print(table)
    for sentence in findings(matrix):
        console.print(f"[yellow]{terminal_text(sentence)}[/yellow]")
    if not findings(matrix):
        console.print(
            "[green]Every check kills a mutant; two checks or more kill each mutant.[/green]"
        )


def _killed_by(matrix: CoverageMatrix, mutant: str, fragile: bool) -> str:
    if mutant not in matrix.graded_mutants:
        return "[dim]before checks[/dim]"
    count = len(matrix.killed_by(mutant))
    return f"[yellow]{count} fragile[/yellow]" if fragile else str(count)


def _legend() -> str:
    return "X kills it (passes on the reference, fails on the mutant); · it passes too; – not run"


def matrix_json(matrix: CoverageMatrix) -> dict[str, object]:
    """The matrix and what stands out, for `--json` (the same words as the table)."""
    return {
        **matrix.model_dump(mode="json"),
        "suspect_checks": matrix.suspect_checks,
        "fragile_mutants": matrix.fragile_mutants,
        "surviving_mutants": matrix.surviving_mutants,
        "findings": findings(matrix),
    }
