"""The server-rendered SVG charts: geometry from the numbers, well-formed escaped SVG."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from servelab.web import charts
from servelab.web.templating import templates

SVG = "{http://www.w3.org/2000/svg}"


def draw(chart: charts.Chart) -> ET.Element:
    macro = templates.env.get_template("_charts.html").module.chart  # type: ignore[attr-defined]
    html = str(macro(chart))
    figure = ET.fromstring(html.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))
    return figure


def test_bar_lengths_follow_values_and_references_sit_at_their_value() -> None:
    chart = charts.bar_chart(
        [charts.Bar("young", 0.8), charts.Bar("old", 0.4, note="120 rows")],
        title="AUC per slice",
        max_value=1.0,
        references=[charts.Reference("floor", 0.6)],
    )
    young, old = chart.rects
    assert math.isclose(young.width, 2 * old.width)
    assert young.x == old.x > 5 * charts.LABEL_CHAR_WIDTH  # room for the labels "young", "old"
    span = charts.WIDTH - young.x - charts.VALUE_GUTTER
    assert math.isclose(young.width, 0.8 * span)
    floor = [s for s in chart.segments if s.dashed]
    assert len(floor) == 1 and math.isclose(floor[0].x1, young.x + 0.6 * span)
    assert "young 0.8" in chart.summary and "floor 0.6" in chart.summary
    assert "old: 0.4 · 120 rows" in old.tooltip

    figure = draw(chart)
    svg = figure.find(f"{SVG}svg")
    assert svg is not None and svg.get("role") == "img"
    assert svg.findtext(f"{SVG}title") == "AUC per slice"
    assert len(svg.findall(f"{SVG}rect")) == 2
    assert len([line for line in svg.findall(f"{SVG}line") if line.get("stroke-dasharray")]) == 1


def test_labels_are_escaped_and_long_ones_cut() -> None:
    label = "<script>alert(1)</script> and a very long slice name"
    figure = draw(charts.bar_chart([charts.Bar(label, 1.0)], title="t & <b>"))
    svg = figure.find(f"{SVG}svg")
    assert svg is not None
    texts = [t.text or "" for t in svg.iter(f"{SVG}text")]
    assert any(t.startswith("<script>alert(1)") and t.endswith("…") for t in texts)
    assert svg.findtext(f"{SVG}title") == "t & <b>"  # parsed back: it was escaped in the HTML
    assert not list(figure.iter("script"))


def test_the_label_column_fits_the_longest_cut_label() -> None:
    long = charts.bar_chart([charts.Bar("x" * 80, 1.0)], title="long")
    short = charts.bar_chart([charts.Bar("ab", 1.0)], title="short")
    [bar] = long.rects
    assert bar.x == charts.LABEL_WIDTH >= charts.MAX_LABEL_CHARS * charts.LABEL_CHAR_WIDTH
    assert short.rects[0].x < 40 + 1


def test_values_outside_the_scale_or_not_finite_are_clamped() -> None:
    chart = charts.bar_chart(
        [charts.Bar("a", -3), charts.Bar("b", 7), charts.Bar("c", math.nan)],
        title="clamped",
        max_value=5,
    )
    a, b, c = chart.rects
    assert a.width == 0 and c.width == 0
    assert math.isclose(b.width, charts.WIDTH - b.x - charts.VALUE_GUTTER)
    assert "c —" in chart.summary


def test_histogram_counts_every_value_once_with_the_top_edge_included() -> None:
    chart = charts.histogram([0, 10, 10, 55, 100, 100, 100], title="Scores", lo=0, hi=100, bins=10)
    heights = [r.height for r in chart.rects]
    assert len(heights) == 10
    tallest = max(heights)
    counts = [round(3 * h / tallest) for h in heights]
    assert counts == [1, 2, 0, 0, 0, 1, 0, 0, 0, 3]
    assert "7 values" in chart.summary and "the most, 3, between 90 and 100" in chart.summary
    draw(chart)


def test_line_chart_puts_the_best_value_highest_and_keeps_the_latest_points() -> None:
    points = [charts.Point(f"#{i}", float(i % 7)) for i in range(100)]
    chart = charts.line_chart(points, title="Score history", hi=10)
    assert len(chart.dots) == charts.MAX_ITEMS
    assert chart.dots[-1].tooltip == "#99: 1"
    best = min(chart.dots, key=lambda d: d.y)
    assert best.tooltip.endswith(": 6")
    assert len(chart.polyline.split()) == charts.MAX_ITEMS
    draw(chart)


def test_empty_charts_say_so() -> None:
    for chart in (
        charts.bar_chart([], title="none"),
        charts.histogram([], title="none", lo=0, hi=1),
        charts.line_chart([], title="none"),
    ):
        assert chart.empty and chart.summary == "No data yet."
        svg = draw(chart).find(f"{SVG}svg")
        assert svg is not None
        assert "No data yet" in [t.text for t in svg.iter(f"{SVG}text")]
