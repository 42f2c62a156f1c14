"""A result at a glance: category bars, checks failed first, the grader's tables as charts.

Built from a result document as the page may show it (the learner's view, or the full document
for instructors): every label and number here is one the grader or the platform computed and
recorded (category labels from exercise.toml, table cells from `record_table`), never the
learner's own text. The charts come from `charts`; each sits beside a table of its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from servelab.grading.results import Cell, CheckStatus, ResultDocument, Table, TestResult
from servelab.grading.views import HistoryEntry
from servelab.web import charts

# Columns of a recorded table drawn as reference lines across its bars, when every row holds
# the same number there (the flagship's slice tables record the floor and the baseline).
REFERENCE_COLUMNS = {"floor": "Floor", "baseline": "Baseline"}


@dataclass(frozen=True)
class RecordedTable:
    """One table a check recorded, with its chart when its shape allows one."""

    check: str
    name: str
    columns: list[str]
    rows: list[dict[str, Cell]]
    chart: charts.Chart | None


@dataclass(frozen=True)
class ResultGlance:
    categories: charts.Chart | None
    failed: list[TestResult]  # every check not passed (failed, error, skipped), grader's order
    passed: list[TestResult]
    tables: list[RecordedTable]


def _is_number(value: Cell) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: Cell) -> float | None:
    return float(value) if _is_number(value) and math.isfinite(float(value)) else None  # type: ignore[arg-type]


def _metric_column(rows: Sequence[dict[str, Cell]], candidates: list[str]) -> str | None:
    """The first column holding a measured value in every row: numbers (None where the grader
    could not compute one), at least one of them a float (counts such as `customers` are
    whole numbers and stay in the table only)."""
    for column in candidates:
        values = [row.get(column) for row in rows]
        if all(v is None or _is_number(v) for v in values) and any(
            isinstance(v, float) for v in values
        ):
            return column
    return None


def _references(rows: Sequence[dict[str, Cell]]) -> list[charts.Reference]:
    references = []
    for column, label in REFERENCE_COLUMNS.items():
        values = {_finite(row.get(column)) for row in rows}
        if len(values) == 1 and (value := values.pop()) is not None:
            references.append(charts.Reference(label, value))
    return references


def table_chart(table: Table, *, chart_id: str) -> charts.Chart | None:
    """A bar per row (its first column names it) of the first measured column, with the
    table's floor and baseline as reference lines; None when the table has no such shape."""
    rows = table.rows
    if not rows:
        return None
    columns = list(rows[0])
    label_column = columns[0]
    if not all(isinstance(row.get(label_column), str) for row in rows):
        return None
    others = [c for c in columns[1:] if c not in REFERENCE_COLUMNS]
    metric = _metric_column(rows, others)
    if metric is None:
        return None
    bars = [
        charts.Bar(str(row[label_column]), _finite(row.get(metric)) or math.nan) for row in rows
    ]
    references = _references(rows)
    values = [b.value for b in bars if math.isfinite(b.value)] + [r.value for r in references]
    # A metric in [0, 1] (ROC AUC, accuracy) is drawn on its whole scale.
    scale = 1.0 if values and all(0 <= v <= 1 for v in values) else None
    return charts.bar_chart(
        bars,
        title=f"{table.name}: {metric}",
        max_value=scale,
        references=references,
        chart_id=chart_id,
    )


def category_chart(result: ResultDocument) -> charts.Chart | None:
    """One bar per category: the share of its points scored."""
    shown = [c for c in result.categories if c.max_score > 0]
    if not shown:
        return None
    # The points are in the table beside the chart: a note would not fit a phone's width.
    bars = [charts.Bar(c.label, 100 * c.score / c.max_score) for c in shown]
    return charts.bar_chart(
        bars, title="Points per category", max_value=100, unit="%", chart_id="chart-categories"
    )


def glance(result: ResultDocument) -> ResultGlance:
    """What the result page draws at the top and lists below, from the document it shows."""
    failed = [t for t in result.tests if t.status != CheckStatus.PASSED]
    passed = [t for t in result.tests if t.status == CheckStatus.PASSED]
    tables: list[RecordedTable] = []
    for test in result.tests:
        for table in test.tables:
            columns = list(table.rows[0]) if table.rows else []
            chart = table_chart(table, chart_id=f"chart-table-{len(tables) + 1}")
            tables.append(RecordedTable(test.name, table.name, columns, table.rows, chart))
    return ResultGlance(category_chart(result), failed, passed, tables)


def history_chart(entries: Sequence[HistoryEntry]) -> charts.Chart:
    """The learner's score history (percent of the points, oldest first)."""
    points = [charts.Point(f"#{e.submission.id}", e.percent) for e in entries]
    return charts.line_chart(
        points,
        title="Your score, submission by submission",
        lo=0,
        hi=100,
        unit="%",
        chart_id="chart-score-history",
    )
