"""Inline SVG charts for the report page, written by hand so the page needs nothing from the
network: stacked bars per day, a histogram, plain bars. Every mark carries data-* attributes with
the number it draws (tests and curious readers can read them back)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 640, 220
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 48, 36, 12


def _frame(chart_id: str, label: str, body: list[str], ymax: float, unit: str) -> str:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    axis = [
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{PAD_TOP + plot_h}" stroke="#888"/>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP + plot_h}" x2="{WIDTH - 8}" y2="{PAD_TOP + plot_h}"'
        ' stroke="#888"/>',
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + 10}" text-anchor="end" font-size="11">'
        f"{escape(_number(ymax))}{escape(unit)}</text>",
        f'<text x="{PAD_LEFT - 6}" y="{PAD_TOP + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    return (
        f'<svg id="{chart_id}" class="chart" role="img" aria-label="{escape(label)}"'
        f' xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' width="{WIDTH}" height="{HEIGHT}">'
        f"<title>{escape(label)}</title>{''.join(axis)}{''.join(body)}</svg>"
    )


def _number(value: float) -> str:
    return f"{value:.4g}"


def _empty(chart_id: str, label: str) -> str:
    return _frame(
        chart_id,
        label,
        [f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle" font-size="13">no data</text>'],
        0,
        "",
    )


def stacked_bars(
    chart_id: str,
    label: str,
    columns: Sequence[tuple[str, Mapping[str, int]]],
    colours: Mapping[str, str],
) -> str:
    """One bar per column (a day), stacked by series (an outcome), in the order of `colours`."""
    totals = [sum(values.values()) for _, values in columns]
    if not columns or not any(totals):
        return _empty(chart_id, label)
    ymax = max(totals)
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / len(columns)
    bar = max(step * 0.7, 1.0)
    body: list[str] = []
    for i, (name, values) in enumerate(columns):
        x = PAD_LEFT + i * step + (step - bar) / 2
        y = float(PAD_TOP + plot_h)
        for series, colour in colours.items():
            count = values.get(series, 0)
            if not count:
                continue
            h = plot_h * count / ymax
            y -= h
            body.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}"'
                f' fill="{colour}" data-column="{escape(name)}" data-series="{escape(series)}"'
                f' data-value="{count}"><title>{escape(name)}: {escape(series)} {count}</title></rect>'
            )
        if len(columns) <= 16 or i % (len(columns) // 8 + 1) == 0:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle"'
                f' font-size="10">{escape(name[5:])}</text>'
            )
    legend_x = PAD_LEFT + 4
    for series, colour in colours.items():
        body.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{HEIGHT - 5}" font-size="10">{escape(series)}</text>'
        )
        legend_x += 14 + int(6.2 * len(series)) + 10
    return _frame(chart_id, label, body, ymax, "")


def bars(chart_id: str, label: str, columns: Sequence[tuple[str, float]], unit: str, colour: str) -> str:
    """One bar per column."""
    if not columns or not any(v for _, v in columns):
        return _empty(chart_id, label)
    ymax = max(v for _, v in columns)
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / len(columns)
    bar = max(step * 0.7, 1.0)
    body: list[str] = []
    for i, (name, value) in enumerate(columns):
        x = PAD_LEFT + i * step + (step - bar) / 2
        h = plot_h * value / ymax if ymax else 0
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}"'
            f' fill="{colour}" data-column="{escape(name)}" data-value="{value:.6g}">'
            f"<title>{escape(name)}: {escape(_number(value))}{escape(unit)}</title></rect>"
        )
        if len(columns) <= 16 or i % (len(columns) // 8 + 1) == 0:
            body.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle"'
                f' font-size="10">{escape(name)}</text>'
            )
    return _frame(chart_id, label, body, ymax, unit)


def histogram_bins(values: Sequence[float], edges: Sequence[float]) -> list[tuple[str, float]]:
    """Counts of `values` in [edges[i], edges[i+1]), and a last open bin "≥ edges[-1]"."""
    counts = [0] * len(edges)
    for v in values:
        slot = next((i for i in range(len(edges) - 1) if edges[i] <= v < edges[i + 1]), len(edges) - 1)
        counts[slot] += 1
    labels = [f"{_number(a)}–{_number(b)} s" for a, b in itertools.pairwise(edges)]
    labels.append(f"≥ {_number(edges[-1])} s")
    return list(zip(labels, [float(c) for c in counts], strict=True))
