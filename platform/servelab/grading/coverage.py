"""Grader coverage: which mutants each check kills, from the self-test's gradings.

A check kills a mutant when it passes on the reference and does not pass on the mutant. A
check that kills no mutant is *suspect* (nothing shows it can fail for a wrong solution); a
mutant that only one check kills is *fragile* (loosen that check and the mistake goes
unnoticed). The matrix is built from the result documents the self-test already has (the
checks that make the grade: with split hidden data, the final part's; the self-test checks
that the feedback part judges the same), so it costs no grading of its own.

Only check ids and candidate names are kept: no hidden data, no check output.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from servelab.db.models.grading import SubmissionStatus
from servelab.grading.outcome import GradeOutcome
from servelab.grading.results import MAX_CHECKS, CheckStatus
from servelab.grading.selftest import Kind, SelftestReport, check_id

MAX_MUTANTS = 200
MAX_NAME = 500  # a check id is at most a node id (results.TestResult.nodeid)
MARKDOWN_START = "<!-- coverage-matrix:start -->"
MARKDOWN_END = "<!-- coverage-matrix:end -->"


class Cell(StrEnum):
    KILLED = "killed"  # passed on the reference, failed (or errored) on the mutant
    SURVIVED = "survived"  # the mutant passed it too (or the reference did not pass it)
    NOT_RUN = "not run"  # the mutant ended before its checks, or its suite stopped early


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MutantColumn(_Model):
    name: str = Field(max_length=MAX_NAME)
    # graded | failed | error: a mutant that was not graded ran no check (e.g. too slow to
    # start); it is caught by the pipeline, not by the suite, and is neither fragile nor a
    # survivor here
    status: SubmissionStatus


class CheckRow(_Model):
    check: str = Field(max_length=MAX_NAME)
    reference_passed: bool
    cells: list[Cell] = Field(max_length=MAX_MUTANTS)  # one per mutant, in `mutants` order


class CoverageMatrix(_Model):
    """Checks (rows, in the suite's order) against mutants (columns, in discovery's order)."""

    slug: str = Field(max_length=80)
    mutants: list[MutantColumn] = Field(max_length=MAX_MUTANTS)
    rows: list[CheckRow] = Field(max_length=MAX_CHECKS)

    @model_validator(mode="after")
    def _one_cell_per_mutant(self) -> CoverageMatrix:
        for row in self.rows:
            if len(row.cells) != len(self.mutants):
                raise ValueError(f"row {row.check!r}: {len(row.cells)} cells, not one per mutant")
        return self

    def kills(self, check: str) -> list[str]:
        """The mutants this check kills."""
        row = next(r for r in self.rows if r.check == check)
        return [m.name for m, c in zip(self.mutants, row.cells, strict=True) if c == Cell.KILLED]

    def killed_by(self, mutant: str) -> list[str]:
        """The checks that kill this mutant."""
        index = next(i for i, m in enumerate(self.mutants) if m.name == mutant)
        return [r.check for r in self.rows if r.cells[index] == Cell.KILLED]

    @property
    def suspect_checks(self) -> list[str]:
        """Checks the reference passes that kill no mutant."""
        return [r.check for r in self.rows if r.reference_passed and Cell.KILLED not in r.cells]

    @property
    def fragile_mutants(self) -> dict[str, str]:
        """Graded mutants that exactly one check kills, with that check."""
        out = {}
        for mutant in self.graded_mutants:
            killers = self.killed_by(mutant)
            if len(killers) == 1:
                out[mutant] = killers[0]
        return out

    @property
    def surviving_mutants(self) -> list[str]:
        """Graded mutants that no check kills: the suite cannot tell them from the reference."""
        return [m for m in self.graded_mutants if not self.killed_by(m)]

    @property
    def graded_mutants(self) -> list[str]:
        return [m.name for m in self.mutants if m.status == SubmissionStatus.GRADED]

    @property
    def ungraded_mutants(self) -> list[MutantColumn]:
        return [m for m in self.mutants if m.status != SubmissionStatus.GRADED]


def build_matrix(
    slug: str, reference: GradeOutcome, mutants: Sequence[tuple[str, GradeOutcome]]
) -> CoverageMatrix:
    """The matrix from the reference's grading and each mutant's (name, grading)."""
    if reference.result is None:
        raise ValueError("the reference was not graded: there is no check to build a matrix of")
    statuses = [_check_statuses(outcome) for _, outcome in mutants]
    rows = []
    for test in reference.result.tests:
        check = check_id(test.nodeid)
        passed = test.status == CheckStatus.PASSED
        rows.append(
            CheckRow(
                check=check,
                reference_passed=passed,
                cells=[_cell(passed, on_mutant.get(check)) for on_mutant in statuses],
            )
        )
    columns = [MutantColumn(name=name, status=outcome.status) for name, outcome in mutants]
    return CoverageMatrix(slug=slug, mutants=columns, rows=rows)


def matrix_from_report(report: SelftestReport) -> CoverageMatrix | None:
    """The matrix of a self-test run, or None when it graded no reference (e.g. `--only`
    without `solution`, or an authoring problem stopped it before grading)."""
    reference = next((v for v in report.verdicts if v.candidate.kind == Kind.REFERENCE), None)
    if reference is None or reference.outcome is None or reference.outcome.result is None:
        return None
    mutants = [
        (v.candidate.name, v.outcome)
        for v in report.verdicts
        if v.candidate.kind == Kind.MUTANT and v.outcome is not None
    ]
    return build_matrix(report.slug, reference.outcome, mutants)


def _check_statuses(outcome: GradeOutcome) -> dict[str, CheckStatus]:
    if outcome.status != SubmissionStatus.GRADED or outcome.result is None:
        return {}
    return {check_id(t.nodeid): t.status for t in outcome.result.tests}


def _cell(reference_passed: bool, on_mutant: CheckStatus | None) -> Cell:
    if on_mutant is None:
        return Cell.NOT_RUN
    if reference_passed and on_mutant != CheckStatus.PASSED:
        return Cell.KILLED
    return Cell.SURVIVED


MARK = {Cell.KILLED: "X", Cell.SURVIVED: "·", Cell.NOT_RUN: "–"}


def findings(matrix: CoverageMatrix) -> list[str]:
    """One sentence per thing the instructor should look at (empty when nothing stands out)."""
    out = []
    for check in matrix.suspect_checks:
        out.append(f"suspect check: {check} kills no mutant")
    for mutant, check in matrix.fragile_mutants.items():
        out.append(f"fragile mutant: {mutant} is killed by one check only ({check})")
    for mutant in matrix.surviving_mutants:
        out.append(f"surviving mutant: {mutant} is killed by no check")
    for row in matrix.rows:
        if not row.reference_passed:
            out.append(f"the reference does not pass {row.check}: it cannot kill anything")
    return out


def render_markdown(matrix: CoverageMatrix) -> str:
    """The matrix as the Markdown block CALIBRATION.md holds, between its two markers (so
    `replace_markdown_block` can update it in place and a test can compare it)."""
    names = [m.name for m in matrix.mutants]
    lines = [
        MARKDOWN_START,
        f"Written by `servelab exercise selftest {matrix.slug} --matrix`: X = the check passes on "
        "the reference and fails on the mutant (kills it), · = the mutant passes it too, "
        "– = not run (the mutant ended before the checks).",
        "",
        "| check | " + " | ".join(_md(n) for n in names) + " | kills |",
        "|---|" + "---|" * len(names) + "---:|",
    ]
    for row in matrix.rows:
        kills = len(matrix.kills(row.check))
        note = " (suspect)" if kills == 0 and row.reference_passed else ""
        if not row.reference_passed:
            note = " (reference fails)"
        marks = " | ".join(MARK[c] for c in row.cells)
        lines.append(f"| {_md(row.check)} | {marks} | {kills}{note} |")
    killed_by = " | ".join(_killed_by_cell(matrix, m) for m in matrix.mutants)
    lines.append(f"| **killed by** | {killed_by} | |")
    lines.append("")
    lines += [f"- {_md(sentence)}" for sentence in findings(matrix)] or ["- nothing stands out"]
    lines.append(MARKDOWN_END)
    return "\n".join(lines) + "\n"


def _killed_by_cell(matrix: CoverageMatrix, mutant: MutantColumn) -> str:
    if mutant.status != SubmissionStatus.GRADED:
        return f"{mutant.status.value} before the checks"
    return str(len(matrix.killed_by(mutant.name)))


def _md(text: str) -> str:
    """Text for a Markdown table cell: a `|` would end the cell."""
    return text.replace("|", "\\|").replace("\n", " ")


class MarkdownBlockError(Exception):
    """The file has no coverage block to replace, or a broken one (message says what to do)."""


def replace_markdown_block(text: str, block: str) -> str:
    """`text` with its coverage block (start marker to end marker) replaced by `block`."""
    start, end = text.find(MARKDOWN_START), text.find(MARKDOWN_END)
    if start < 0 or end < start:
        raise MarkdownBlockError(
            f"no coverage block: put the lines {MARKDOWN_START} and {MARKDOWN_END} where the "
            "matrix goes, or name a new file"
        )
    after = end + len(MARKDOWN_END)
    if text[after : after + 1] == "\n":
        after += 1
    return text[:start] + block + text[after:]


def markdown_block(text: str) -> str | None:
    """The coverage block of a file's text (markers included), or None when it has none."""
    start, end = text.find(MARKDOWN_START), text.find(MARKDOWN_END)
    if start < 0 or end < start:
        return None
    return text[start : end + len(MARKDOWN_END)] + "\n"
