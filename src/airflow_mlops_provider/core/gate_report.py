"""The gate report: one self-contained HTML page (no scripts, no external assets) and a short
Markdown summary for the approval request, both from the gate's JSON-able result."""

from __future__ import annotations

import html
import math
from typing import Any

DECISION_TEXT = {
    "promote": "promote automatically",
    "approval": "a person must approve",
    "reject": "reject",
}


HEADER = ("check", "challenger", "champion", "change", "tested", "interval", "bound", "verdict")
VERDICT_TEXT = {"pass": "pass", "fail": "FAIL", "uncertain": "undecided"}
TESTED = {
    "min": "value",
    "max": "value",
    "limit": "value",
    "max_regression": "regression",
    "min_improvement": "improvement",
}


def summary_markdown(result: dict[str, Any], report_url: str | None = None) -> str:
    """The approval request's body: decision, reasons, checks and risk factors as tables."""
    lines = [
        f"**Gate decision: {DECISION_TEXT.get(result['decision'], result['decision'])}** "
        f"for version {result['challenger']} (champion: {result.get('champion') or 'none'})",
        "",
        *[f"- {reason}" for reason in result["reasons"]],
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for row in _rows(result):
        lines.append("| " + " | ".join(row) + " |")
    risk = result.get("risk") or {}
    if risk:
        lines += ["", f"Risk score **{risk['score']:.2f}**:", "", "| factor | value | weight |"]
        lines.append("|---|---|---|")
        for name, value in risk["factors"].items():
            lines.append(f"| {name} | {value:.2f} | {risk['weights'].get(name, 0):.2f} |")
    if report_url:
        lines += ["", f"Full gate report: {report_url}"]
    return "\n".join(lines)


def render_html(result: dict[str, Any], *, title: str) -> str:
    risk = result.get("risk") or {}
    checks = "".join(
        f'<tr class="{_e(row[-1])}">' + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>"
        for row in _rows(result)
    )
    factors = "".join(
        f"<tr><td>{_e(n)}</td><td>{v:.3f}</td><td>{risk['weights'].get(n, 0):.2f}</td>"
        f"<td>{risk['weights'].get(n, 0) * v:.3f}</td></tr>"
        for n, v in risk.get("factors", {}).items()
    )
    reasons = "".join(f"<li>{_e(r)}</li>" for r in result["reasons"])
    decision = result["decision"]
    alpha = result.get("alpha")
    level = f"{1 - 2 * alpha:.0%}" if isinstance(alpha, float) else "?"
    header = "".join(f"<th>{_e(h)}</th>" for h in HEADER)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}
table{{border-collapse:collapse;margin:.5rem 0 1.2rem}}
th,td{{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}}
th{{background:#f4f4f4}} .promote{{color:#176f2c}} .approval{{color:#a15c00}}
.reject{{color:#b00020}} tr.FAIL td{{background:#fff0f0}} tr.undecided td{{background:#fff8e6}}
</style></head><body>
<h1>{_e(title)}</h1>
<p>Challenger version <strong>{_e(result["challenger"])}</strong> vs champion
<strong>{_e(result.get("champion") or "none")}</strong> on the same holdout
(<code>{_e(result.get("holdout", ""))}</code>, {_e(result.get("holdout_rows", "?"))} rows).</p>
<h2 class="{_e(decision)}">Decision: {_e(DECISION_TEXT.get(decision, decision))}</h2>
<ul>{reasons}</ul>
<h2>Checks</h2>
<p>Each bound is a test on the measured quantity: <em>pass</em> when its whole {level}
interval is inside the bound, <em>FAIL</em> when the bound is broken beyond doubt (Holm-corrected
over all checks at alpha {_e(alpha)}), <em>undecided</em> when the holdout cannot tell. Change
columns are challenger minus champion on the same rows; intervals of change bounds are of the
paired difference.</p>
<table><thead><tr>{header}</tr></thead><tbody>{checks}</tbody></table>
{_latency_html(result.get("latency"))}
<h2>Risk score {risk.get("score", float("nan")):.3f}</h2>
<p>score = 1 - &prod; (1 - weight &times; factor); approve at
&ge; {_e(result.get("approve_above"))}, reject at &ge; {_e(result.get("reject_above"))}.</p>
<table><thead><tr><th>factor</th><th>value</th><th>weight</th><th>weight &times; value</th>
</tr></thead><tbody>{factors}</tbody></table>
{_fairness_html(result.get("fairness"))}
</body></html>
"""


def _rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per bound (a metric with min and max_regression has two), in judged order."""
    rows = []
    for check in result.get("checks", []):
        value, champion = check.get("value"), check.get("champion")
        change = value - champion if value is not None and champion is not None else None
        interval = "-"
        if check.get("lower") is not None and check.get("upper") is not None:
            interval = f"{_num(check['lower'])} to {_num(check['upper'])}"
        unit = " (relative)" if check.get("relative") else ""
        rows.append(
            (
                check["name"],
                _num(value),
                _num(champion),
                _signed(change),
                f"{TESTED.get(check['bound'], check['bound'])} {_num(check.get('measured'))}",
                interval,
                f"{check['bound']} {check['limit']:g}{unit}",
                VERDICT_TEXT.get(check.get("verdict", ""), check.get("verdict", "")),
            )
        )
    return rows


def _latency_html(timing: dict[str, Any] | None) -> str:
    change = (timing or {}).get("difference")
    if not change:
        return ""
    return (
        "<p>p95 batch latency, challenger minus champion (timed interleaved, paired bootstrap "
        f"over repeats): {change['difference_ms']:+.2f} ms, interval "
        f"{change['lower_ms']:+.2f} to {change['upper_ms']:+.2f} ms.</p>"
    )


def _fairness_html(fairness: dict[str, Any] | None) -> str:
    if not fairness:
        return ""
    body = "".join(
        f"<tr><td>{_e(g['group'])}</td><td>{g['rows']}</td><td>{g['positives']}</td>"
        f"<td>{g['selection_rate']:.3f}</td><td>{_num(g['true_positive_rate'])}</td>"
        f"<td>{'yes' if g['included'] else 'no (too small)'}</td></tr>"
        for g in fairness["groups"]
    )
    return f"""<h2>Fairness by group (challenger; min group size {fairness["min_group_size"]})</h2>
<table><thead><tr><th>group</th><th>rows</th><th>positives</th><th>selection rate</th>
<th>true positive rate</th><th>counted</th></tr></thead><tbody>{body}</tbody></table>"""


def _signed(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.4f}"


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
