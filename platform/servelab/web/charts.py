"""Server-rendered SVG charts: the geometry is computed here, `_charts.html` draws it.

Pages must work without JavaScript and under a strict Content Security Policy, so a chart is
plain SVG with presentation attributes (no script, no inline style). Every chart carries a
title and a text summary for screen readers, and pages show the same numbers in a table or a
list beside it: the picture helps, the numbers stay readable.

Labels and values come from what the platform or the grader computed; the template escapes
them like any other text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WIDTH = 480  # viewBox units; the SVG scales to its container's width
ROW = 26  # height of one horizontal bar's row
LABEL_WIDTH = 150  # the widest label column of a bar chart; narrower when its labels are short
LABEL_CHAR_WIDTH = 6.6  # an average character at font-size 12, in viewBox units
VALUE_GUTTER = 56  # room right of the longest bar for its value
MAX_LABEL_CHARS = 22  # longer labels are cut on the chart (the full text is in its <title>)
MAX_ITEMS = 60  # bars, bins or points a chart draws at most: a page stays small


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    note: str = ""  # shown after the value, e.g. "3 of 12"


@dataclass(frozen=True)
class Reference:
    """A vertical line across a bar chart, e.g. the floor or the baseline."""

    label: str
    value: float


@dataclass(frozen=True)
class Point:
    label: str
    value: float


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    tooltip: str


@dataclass(frozen=True)
class Segment:
    x1: float
    y1: float
    x2: float
    y2: float
    tooltip: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"  # SVG text-anchor: start, middle or end
    small: bool = False


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    tooltip: str


@dataclass(frozen=True)
class Chart:
    kind: str  # "bar", "histogram" or "line"
    chart_id: str
    title: str
    summary: str
    width: int
    height: int
    rects: tuple[Rect, ...] = ()
    segments: tuple[Segment, ...] = ()  # axes, references
    labels: tuple[Label, ...] = ()
    dots: tuple[Dot, ...] = ()
    polyline: str = ""  # "x,y x,y ..." for a line chart
    empty: bool = False


def number(value: float, unit: str = "") -> str:
    """A value as a chart prints it: at most two decimals, no trailing zeros."""
    if not math.isfinite(value):
        return "—"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return f"{text}{unit}" if unit in ("", "%") else f"{text} {unit}"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _chart_id(title: str, kind: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "chart"
    return f"chart-{kind}-{slug}"


def _finite(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values if math.isfinite(float(v))]


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    max_value: float | None = None,
    unit: str = "",
    references: Sequence[Reference] = (),
    chart_id: str | None = None,
) -> Chart:
    """Horizontal bars from zero, one row each, with optional reference lines."""
    bars = list(bars)[:MAX_ITEMS]
    refs = [r for r in references if math.isfinite(r.value)]
    top = 18 if refs else 4
    height = top + max(len(bars), 1) * ROW + 6
    scale_max = max_value
    if scale_max is None:
        scale_max = max(_finite([b.value for b in bars] + [r.value for r in refs]) or [1.0])
    scale_max = scale_max if scale_max > 0 else 1.0
    longest = max((len(_short(b.label)) for b in bars), default=0)
    left = min(LABEL_WIDTH, max(40.0, longest * LABEL_CHAR_WIDTH + 8))
    span = WIDTH - left - VALUE_GUTTER

    def x_of(value: float) -> float:
        clamped = min(max(value, 0.0), scale_max) if math.isfinite(value) else 0.0
        return left + span * clamped / scale_max

    rects, labels = [], []
    for i, bar in enumerate(bars):
        y = top + i * ROW
        text = number(bar.value, unit) + (f" · {bar.note}" if bar.note else "")
        rects.append(Rect(left, y + 5, x_of(bar.value) - left, ROW - 10, f"{bar.label}: {text}"))
        labels.append(Label(left - 6, y + ROW / 2 + 4, _short(bar.label), anchor="end"))
        labels.append(Label(x_of(bar.value) + 4, y + ROW / 2 + 4, text, small=True))
    bottom = top + max(len(bars), 1) * ROW
    segments = [Segment(left, top, left, bottom)]
    for ref in refs:
        x = x_of(ref.value)
        segments.append(
            Segment(x, top - 4, x, bottom, f"{ref.label}: {number(ref.value, unit)}", dashed=True)
        )
        labels.append(Label(x, top - 6, f"{ref.label} {number(ref.value, unit)}", "middle", True))
    parts = [f"{b.label} {number(b.value, unit)}" for b in bars]
    summary = "; ".join(parts) + "." if parts else "No data yet."
    if refs:
        summary += " " + "; ".join(f"{r.label} {number(r.value, unit)}" for r in refs) + "."
    return Chart(
        kind="bar",
        chart_id=chart_id or _chart_id(title, "bar"),
        title=title,
        summary=summary,
        width=WIDTH,
        height=int(height),
        rects=tuple(rects),
        segments=tuple(segments),
        labels=tuple(labels),
        empty=not bars,
    )


PLOT_TOP, PLOT_HEIGHT, AXIS = 16, 120, 40  # histogram and line chart: plot box and left axis


def histogram(
    values: Sequence[float],
    *,
    title: str,
    lo: float,
    hi: float,
    bins: int = 10,
    unit: str = "",
    chart_id: str | None = None,
) -> Chart:
    """How many values fall in each of `bins` equal ranges of [lo, hi] (hi included)."""
    bins = min(max(bins, 1), MAX_ITEMS)
    if not hi > lo:
        hi = lo + 1.0
    data = _finite(values)
    counts = [0] * bins
    for value in data:
        index = int((min(max(value, lo), hi) - lo) / (hi - lo) * bins)
        counts[min(index, bins - 1)] += 1
    peak = max(counts) or 1
    plot_width = WIDTH - AXIS - 8
    bin_width = plot_width / bins
    bottom = PLOT_TOP + PLOT_HEIGHT
    rects = []
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)]
    for i, count in enumerate(counts):
        h = PLOT_HEIGHT * count / peak
        rng = f"{number(edges[i], unit)}–{number(edges[i + 1], unit)}"
        rects.append(
            Rect(AXIS + i * bin_width + 1, bottom - h, bin_width - 2, h, f"{rng}: {count}")
        )
    labels = [
        Label(AXIS - 4, PLOT_TOP + 4, str(peak), anchor="end", small=True),
        Label(AXIS - 4, bottom, "0", anchor="end", small=True),
        Label(AXIS, bottom + 14, number(lo, unit), anchor="start", small=True),
        Label(AXIS + plot_width / 2, bottom + 14, number((lo + hi) / 2, unit), "middle", True),
        Label(AXIS + plot_width, bottom + 14, number(hi, unit), anchor="end", small=True),
    ]
    segments = [
        Segment(AXIS, PLOT_TOP, AXIS, bottom),
        Segment(AXIS, bottom, AXIS + plot_width, bottom),
    ]
    if data:
        most = max(range(bins), key=lambda i: counts[i])
        summary = (
            f"{len(data)} values from {number(lo, unit)} to {number(hi, unit)}; the most, "
            f"{counts[most]}, between {number(edges[most], unit)} and "
            f"{number(edges[most + 1], unit)}."
        )
    else:
        summary = "No data yet."
    return Chart(
        kind="histogram",
        chart_id=chart_id or _chart_id(title, "histogram"),
        title=title,
        summary=summary,
        width=WIDTH,
        height=bottom + 22,
        rects=tuple(rects),
        segments=tuple(segments),
        labels=tuple(labels),
        empty=not data,
    )


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    lo: float = 0.0,
    hi: float | None = None,
    unit: str = "",
    chart_id: str | None = None,
) -> Chart:
    """Values in order (oldest first) as dots joined by a line, e.g. a score history."""
    points = [p for p in points if math.isfinite(p.value)][-MAX_ITEMS:]
    top_value = hi if hi is not None else max([p.value for p in points] or [1.0])
    if not top_value > lo:
        top_value = lo + 1.0
    plot_width = WIDTH - AXIS - 16
    bottom = PLOT_TOP + PLOT_HEIGHT
    step = plot_width / (len(points) - 1) if len(points) > 1 else 0.0

    def y_of(value: float) -> float:
        clamped = min(max(value, lo), top_value)
        return bottom - PLOT_HEIGHT * (clamped - lo) / (top_value - lo)

    dots = []
    for i, point in enumerate(points):
        x = AXIS + 8 + (i * step if len(points) > 1 else plot_width / 2)
        dots.append(Dot(x, y_of(point.value), f"{point.label}: {number(point.value, unit)}"))
    labels = [
        Label(AXIS - 4, PLOT_TOP + 4, number(top_value, unit), anchor="end", small=True),
        Label(AXIS - 4, bottom, number(lo, unit), anchor="end", small=True),
    ]
    if points:
        labels.append(Label(dots[0].x, bottom + 14, _short(points[0].label), "start", True))
        if len(points) > 1:
            labels.append(Label(dots[-1].x, bottom + 14, _short(points[-1].label), "end", True))
    segments = [
        Segment(AXIS, PLOT_TOP, AXIS, bottom),
        Segment(AXIS, bottom, AXIS + plot_width + 16, bottom),
    ]
    if points:
        best = max(points, key=lambda p: p.value)
        listed = ", ".join(number(p.value, unit) for p in points)
        summary = (
            f"{len(points)} values, oldest first: {listed}."
            f" Best {number(best.value, unit)} ({best.label}); latest "
            f"{number(points[-1].value, unit)}."
        )
    else:
        summary = "No data yet."
    return Chart(
        kind="line",
        chart_id=chart_id or _chart_id(title, "line"),
        title=title,
        summary=summary,
        width=WIDTH,
        height=bottom + 22,
        segments=tuple(segments),
        labels=tuple(labels),
        dots=tuple(dots),
        polyline=" ".join(f"{d.x:.1f},{d.y:.1f}" for d in dots),
        empty=not points,
    )
