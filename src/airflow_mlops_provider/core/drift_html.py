"""The drift report as one self-contained HTML page: inline CSS and SVG, no script, no CDN.

Every text from the report or the caller is HTML-escaped: feature names come from user data
and the page may be served by the Airflow UI or attached to an alert. Rows are sorted most
severe first; each carries a small reference-vs-current histogram.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

from airflow_mlops_provider.core.drift import DriftReport, FeatureDrift

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.verdict{display:inline-block;padding:.3rem .7rem;border-radius:.3rem;font-weight:600}
.verdict.drift{background:#ffebe9;color:#a40e26}.verdict.ok{background:#dafbe1;color:#116329}
.verdict.unknown{background:#fff8c5;color:#7d4e00}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin:1rem 0}
dt{color:#59636e}dd{margin:0}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #d1d9e0;padding:.3rem .6rem;text-align:left;vertical-align:middle}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drift td{background:#fff5f5}tr.drift td.flag{color:#a40e26;font-weight:600}
tr.not_enough_evidence td,tr.not_tested td{background:#fffbeb}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
""".strip()
REF_COLOR = "#8c959f"
CUR_COLOR = "#0969da"
_HEADER = (
    "Feature", "Kind", "Effect test", "Effect", "Min effect", "Evidence p-value",
    "p threshold", "Verdict", "Missing ref → cur", "Reference n", "Current n",
    "Distribution", "Note",
)  # fmt: skip
_VERDICT = {
    "drift": '<span class="verdict drift">Dataset drift detected</span>',
    "no_drift": '<span class="verdict ok">No dataset drift</span>',
    "not_enough_evidence": '<span class="verdict unknown">Not enough evidence</span>',
}
_STATUS = {
    "drift": "DRIFT",
    "stable": "stable",
    "not_enough_evidence": "not enough evidence",
    "not_tested": "not tested",
}


def render_html(
    report: DriftReport, *, title: str, compared: Mapping[str, str] | None = None
) -> str:
    """`compared`: what was compared, as label → text (the current batch or window, the
    reference and its model version, the run), shown first."""
    esc = html.escape
    rows = list(report.features)
    n_drifted = sum(f.drifted for f in rows)
    verdict = _VERDICT.get(report.verdict, esc(report.verdict))
    summary = [
        *(compared or {}).items(),
        ("Drifted features", f"{n_drifted} of {len(rows)}"),
        (
            "Drifted share",
            f"{report.drifted_share:.1%} of judged features (dataset drift at "
            f"{report.drift_share:.1%})",
        ),
    ]
    unjudged = report.unjudged_features()
    if unjudged:
        summary.append(("Could not be judged", ", ".join(unjudged)))
    if report.min_rows:
        summary.append(("Rows the check needs", f"about {report.min_rows:,} per batch"))
    if report.p_value_tests_ran:  # only what ran: evidence tests and their error control
        summary += [
            ("Evidence", "KS (numeric), chi-square (categorical) two-sample tests"),
            ("Alpha", _fmt(report.alpha)),
            ("Correction", report.correction),
        ]
    used = sorted({f.test for f in rows})
    summary.append(
        ("Minimum effects", ", ".join(f"{t} {report.min_effect.get(t, 0):g}" for t in used))
    )
    summary.append(("Missing-rate change counted as drift", f"{report.missing_rate_change:.1%}"))
    if report.prediction is not None:
        summary.append(("Prediction distribution", _STATUS[report.prediction.status]))
    header = "".join(f"<th>{h}</th>" for h in _HEADER)
    body = "\n".join(_row(f) for f in rows)
    prediction = ""
    if report.prediction is not None:
        prediction = (
            "<h2>Model output (prediction drift)</h2>\n<table>\n<thead><tr>"
            + header + "</tr></thead>\n<tbody>\n" + _row(report.prediction)
            + "\n</tbody>\n</table>\n"
        )  # fmt: skip
    legend = (
        f'<p class="legend">Histograms:<span style="background:{REF_COLOR}"></span>reference'
        f'<span style="background:{CUR_COLOR}"></span>current</p>'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{verdict}\n<dl>"
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in summary)
        + f"</dl>\n{legend}\n<table>\n<thead><tr>{header}</tr></thead>\n<tbody>\n{body}\n"
        + f"</tbody>\n</table>\n{prediction}</body>\n</html>\n"
    )


def _row(f: FeatureDrift) -> str:
    esc = html.escape
    missing = f"{f.missing_reference:.1%} → {f.missing_current:.1%}"
    if f.missing_drifted:
        missing += " (drift)"
    tested = f.p_value is not None
    return (
        f'<tr class="{esc(f.status)}">'
        f"<td>{esc(f.feature)}</td><td>{esc(f.kind)}</td><td>{esc(f.test)}</td>"
        f'<td class="num">{esc(_fmt(f.statistic)) if tested else "–"}</td>'
        f'<td class="num">{esc(_fmt(f.min_effect))}</td>'
        f'<td class="num">{esc(_fmt(f.p_value)) if tested else "not run"}</td>'
        f'<td class="num">{esc(_fmt(f.threshold)) if tested else "–"}</td>'
        f'<td class="flag">{esc(_STATUS.get(f.status, f.status))}</td>'
        f"<td>{esc(missing)}</td>"
        f'<td class="num">{f.reference_size}</td><td class="num">{f.current_size}</td>'
        f"<td>{_histogram_svg(f.details.get('histogram'), f.feature)}</td>"
        f"<td>{esc(f.note or '')}</td></tr>"
    )


def _histogram_svg(histogram: dict[str, Any] | None, feature: str) -> str:
    """Paired bars (reference grey, current blue) per bin or category; bar heights are shares
    scaled to the tallest bar. The <title> elements give exact shares on hover."""
    if not histogram:
        return ""
    ref = histogram["reference"]
    cur = histogram["current"]
    labels = histogram.get("labels") or _bin_labels(histogram.get("edges") or [])
    if "current_below" in histogram:  # numeric: mass outside the binned range
        ref = [histogram.get("reference_below", 0.0), *ref, histogram.get("reference_above", 0.0)]
        cur = [histogram["current_below"], *cur, histogram["current_above"]]
        labels = ["below the binned range", *labels, "above the binned range"]
    width, height, pad = 220, 48, 2
    peak = max([*ref, *cur, 1e-12])
    slot = (width - 2 * pad) / max(len(ref), 1)
    bar = max(slot / 2 - 0.5, 0.5)
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = pad + i * slot
        label = labels[i] if i < len(labels) else ""
        for offset, share, color, side in (
            (0, r, REF_COLOR, "reference"),
            (bar, c, CUR_COLOR, "current"),
        ):
            h = (height - 2 * pad) * share / peak
            tip = html.escape(f"{label}: {side} {share:.1%}")
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{height - pad - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{tip}</title></rect>'
            )
    name = html.escape(f"distribution of {feature}")
    return (
        f'<svg width="{width}" height="{height}" '
        f'role="img" aria-label="{name}">' + "".join(parts) + "</svg>"
    )


def _bin_labels(edges: list[float | None]) -> list[str]:
    return [f"{_fmt(a)} to {_fmt(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    return f"{value:.3g}"
