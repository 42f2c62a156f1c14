"""Server-rendered SVG charts (no JavaScript), with a text alternative for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def band_labels(bins: int) -> list[str]:
    width = 100 // bins
    return [f"{i * width}–{100 if i == bins - 1 else (i + 1) * width - 1} %" for i in range(bins)]


def histogram_svg(counts: Sequence[int], *, title: str, width: int = 560, height: int = 240) -> str:
    """A bar chart of score bands; each bar has a <title> tooltip with its exact count."""
    labels = band_labels(len(counts))
    left, right, top, bottom = 40, 10, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts, default=0) or 1
    bar_w = plot_w / max(1, len(counts))
    summary = ", ".join(f"{label}: {n}" for label, n in zip(labels, counts, strict=True))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="hist-title hist-desc">',
        f'<title id="hist-title">{escape(title)}</title>',
        f'<desc id="hist-desc">Number of attempts per score band. {escape(summary)}.</desc>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#4a5360"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#4a5360"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for i, (label, n) in enumerate(zip(labels, counts, strict=True)):
        bar_h = plot_h * n / peak
        x = left + i * bar_w + 2
        y = top + plot_h - bar_h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" '
            f'height="{bar_h:.1f}" fill="#0b5cad"><title>{escape(label)}: {n}</title></rect>'
        )
        if n:
            parts.append(
                f'<text x="{x + (bar_w - 4) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="11">{n}</text>'
            )
        parts.append(
            f'<text x="{x + (bar_w - 4) / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'font-size="10">{escape(label.replace(" %", ""))}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        'font-size="11">score (%)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
