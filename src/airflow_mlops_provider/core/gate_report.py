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


def summary_markdown(result: dict[str, Any], report_url: str | None = None) -> str:
    """The approval request's body: decision, reasons, metrics and risk factors as tables."""
    lines = [
        f"**Gate decision: {DECISION_TEXT.get(result['decision'], result['decision'])}** "
        f"for version {result['challenger']} (champion: {result.get('champion') or 'none'})",
        "",
        *[f"- {reason}" for reason in result["reasons"]],
        "",
        "| check | challenger | champion | limit | ok |",
        "|---|---|---|---|---|",
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
        "<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in _rows(result)
    )
    factors = "".join(
        f"<tr><td>{_e(n)}</td><td>{v:.3f}</td><td>{risk['weights'].get(n, 0):.2f}</td>"
        f"<td>{risk['weights'].get(n, 0) * v:.3f}</td></tr>"
        for n, v in risk.get("factors", {}).items()
    )
    reasons = "".join(f"<li>{_e(r)}</li>" for r in result["reasons"])
    decision = result["decision"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}
table{{border-collapse:collapse;margin:.5rem 0 1.2rem}}
th,td{{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}}
th{{background:#f4f4f4}} .promote{{color:#176f2c}} .approval{{color:#a15c00}}
.reject{{color:#b00020}}
</style></head><body>
<h1>{_e(title)}</h1>
<p>Challenger version <strong>{_e(result["challenger"])}</strong> vs champion
<strong>{_e(result.get("champion") or "none")}</strong> on the same holdout
(<code>{_e(result.get("holdout", ""))}</code>, {_e(result.get("holdout_rows", "?"))} rows).</p>
<h2 class="{_e(decision)}">Decision: {_e(DECISION_TEXT.get(decision, decision))}</h2>
<ul>{reasons}</ul>
<h2>Checks</h2>
<table><thead><tr><th>check</th><th>challenger</th><th>champion</th><th>limit</th>
<th>ok</th></tr></thead><tbody>{checks}</tbody></table>
<h2>Risk score {risk.get("score", float("nan")):.3f}</h2>
<p>score = 1 - &prod; (1 - weight &times; factor); approve at
&ge; {_e(result.get("approve_above"))}, reject at &ge; {_e(result.get("reject_above"))}.</p>
<table><thead><tr><th>factor</th><th>value</th><th>weight</th><th>weight &times; value</th>
</tr></thead><tbody>{factors}</tbody></table>
{_fairness_html(result.get("fairness"))}
</body></html>
"""


def _rows(result: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """One row per configured metric and per hard limit, in the order they were judged."""
    rows = []
    for verdict in result.get("verdicts", []):
        rows.append(
            (
                verdict["metric"],
                _num(verdict["challenger"]),
                _num(verdict["champion"]),
                "; ".join(verdict["reasons"]) or "within bounds",
                "yes" if verdict["passed"] else "NO",
            )
        )
    for check in result.get("checks", []):
        champion = (result.get("champion_checks") or {}).get(check["name"])
        rows.append(
            (
                check["name"],
                _num(check["value"]),
                _num(champion),
                f"<= {check['limit']}",
                "yes" if check["passed"] else "NO",
            )
        )
    return rows


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


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)
