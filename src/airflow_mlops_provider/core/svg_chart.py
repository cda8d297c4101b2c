"""A small inline SVG line chart: values over time, a dashed bound line, hover titles.

No script, no external asset (pages are served with a CSP that allows neither). Points are
spaced by their order, not their time: runs are what a person compares, and weekly and
manual runs mixed would otherwise bunch up.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from airflow_mlops_provider.core.text import number

WIDTH, HEIGHT, PAD = 420, 140, 30
LINE = "#0969da"
BOUND = "#cf222e"


def line_chart(
    points: Sequence[dict[str, Any]],
    *,
    label: str,
    bound: float | None = None,
    bound_label: str = "bound",
    low: float | None = None,
    high: float | None = None,
) -> str:
    """`points`: dicts with "value" and "time" (and optionally "run_id"), oldest first."""
    if not points:
        return f'<p class="empty">No {html.escape(label)} measured yet.</p>'
    values = [float(p["value"]) for p in points]
    span_values = [*values, *([bound] if bound is not None else [])]
    lo = min(span_values) if low is None else low
    hi = max(span_values) if high is None else high
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5

    def y(value: float) -> float:
        return HEIGHT - PAD - (value - lo) / (hi - lo) * (HEIGHT - 2 * PAD)

    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)
    xs = [PAD + i * step for i in range(len(points))]
    path = " ".join(f"{x:.1f},{y(v):.1f}" for x, v in zip(xs, values, strict=True))
    parts = [
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#d1d9e0"/>',
        _axis_text(PAD - 4, y(hi) + 4, number(hi), "end"),
        _axis_text(PAD - 4, y(lo) + 4, number(lo), "end"),
        f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>',
    ]
    if bound is not None:
        parts.append(
            f'<line x1="{PAD}" y1="{y(bound):.1f}" x2="{WIDTH - PAD}" y2="{y(bound):.1f}" '
            f'stroke="{BOUND}" stroke-dasharray="4 3"><title>{html.escape(bound_label)} '
            f"{number(bound)}</title></line>"
        )
    for x, point, value in zip(xs, points, values, strict=True):
        tip = html.escape(f"{point.get('time', '')} {point.get('run_id', '')}: {number(value)}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="3.5" fill="{LINE}">'
            f"<title>{tip}</title></circle>"
        )
    parts.append(_axis_text(PAD, HEIGHT - 8, str(points[0].get("time", ""))[:10], "start"))
    parts.append(_axis_text(WIDTH - PAD, HEIGHT - 8, str(points[-1].get("time", ""))[:10], "end"))
    name = html.escape(f"{label} over time")
    return (
        f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{name}">' + "".join(parts) + "</svg>"
    )


def _axis_text(x: float, y: float, text: str, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" fill="#59636e" '
        f'text-anchor="{anchor}">{html.escape(text)}</text>'
    )
