"""The pipelines view as one self-contained HTML page (inline CSS and SVG, no script).

It is shown inside the Airflow UI (an iframe under the nav entry), so links to Airflow pages
open in the UI around it (`target="_top"`) and reports open in a new tab. Every text that
comes from a YAML, the registry or the audit log is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from airflow_mlops_provider.core.svg_chart import line_chart
from airflow_mlops_provider.core.text import human_list, number

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.2rem;color:#1f2328}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:1.6rem 0 .3rem;
border-top:1px solid #d1d9e0;padding-top:1rem}h3{font-size:1rem;margin:1rem 0 .3rem}
table{border-collapse:collapse;font-size:.9rem}th,td{border:1px solid #d1d9e0;
padding:.25rem .55rem;text-align:left}th{background:#f6f8fa}.num{text-align:right}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem}.muted{color:#59636e}.empty{color:#59636e}
.badge{display:inline-block;padding:.1rem .45rem;border-radius:.3rem;font-size:.85rem}
.ok{background:#dafbe1;color:#116329}.bad{background:#ffebe9;color:#a40e26}
.wait{background:#fff8c5;color:#7d4e00}pre{background:#fff5f5;padding:.5rem;white-space:pre-wrap}
ul{margin:.3rem 0;padding-left:1.2rem}
""".strip()
_GOOD = {"promote", "promoted", "healthy", "passed", "ok"}
_BAD = {
    "reject",
    "rejected",
    "retrain",
    "rolled_back",
    "rolled_back_canary",
    "stopped_in_shadow",
    "decayed",
}


def render_overview(
    overviews: Sequence[dict[str, Any]],
    errors: Sequence[tuple[str, str]],
    *,
    base: str = "",
    hidden: int = 0,
) -> str:
    """The page: config errors first (they need fixing), then one section per pipeline.

    `base` prefixes Airflow UI links (`[api] base_url`, or "" for same-site paths); `hidden`
    counts pipelines the user may not see (said, never named)."""
    sections = [_errors(errors)] if errors else []
    sections += [_pipeline(o, base) for o in overviews]
    if not overviews:
        sections.append('<p class="empty">No pipeline you can see has a YAML in the pipelines '
                        "folder.</p>")  # fmt: skip
    if hidden:
        sections.append(f'<p class="muted">{hidden} more pipeline(s) you have no access to.</p>')
    names = " · ".join(f'<a href="#{_e(o["pipeline"])}">{_e(o["pipeline"])}</a>' for o in overviews)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>MLOps pipelines'
        f"</title><style>{_CSS}</style></head><body>\n<h1>MLOps pipelines</h1>\n"
        f'<p class="muted">{names}</p>\n' + "\n".join(sections) + "\n</body></html>\n"
    )


def _pipeline(o: dict[str, Any], base: str) -> str:
    name = o["pipeline"]
    dags = o["dag_ids"]
    links = " · ".join(
        f'<a target="_top" href="{_e(base)}/dags/{quote(d)}">{_e(d)}</a>' for d in dags.values()
    )
    parts = [
        f'<h2 id="{_e(name)}">{_e(name)}</h2>',
        f'<p class="muted">{_e(o.get("description") or "")} DAGs: {links}</p>',
        _champion(o),
        _monitoring(o.get("monitoring")),
        _charts(o),
        _approvals(o.get("pending_approvals") or [], base),
        _canary(o.get("canary")),
        _versions(o.get("versions") or [], o["model"]),
        _decisions(o.get("decisions") or [], base),
    ]
    return f'<section class="pipeline">{"".join(parts)}</section>'


def _champion(o: dict[str, Any]) -> str:
    champion = o.get("champion")
    if champion is None:
        why = o.get("registry_error") or "no version has been promoted yet"
        return f"<p><strong>Champion:</strong> none ({_e(why)})</p>"
    return (
        f"<p><strong>Champion:</strong> {_e(o['model'])} v{_e(champion['version'])} since "
        f"{_e(champion['since'])} &middot; gate {_badge(champion.get('gate'))}</p>"
    )


def _monitoring(status: dict[str, Any] | None) -> str:
    if not status:
        return "<p><strong>Monitoring:</strong> no monitoring run yet</p>"
    return (
        f"<p><strong>Monitoring:</strong> {_badge(status.get('status'))} "
        f'{_e(status.get("reason") or "")} <span class="muted">(window '
        f"{_e(str(status.get('window', ''))[:10])}, run {_e(status.get('run_id', ''))})</span></p>"
    )


def _charts(o: dict[str, Any]) -> str:
    bound = o.get("performance_bound") or {}
    limit = bound.get("min") if bound.get("min") is not None else bound.get("max")
    metric = bound.get("metric") or next((p.get("metric") for p in o.get("live") or []), "metric")
    return (
        '<div class="charts"><div><h3>Drifted share of features</h3>'
        + line_chart(o.get("drift") or [], label="drift share", low=0.0, high=1.0,
                     bound=o.get("drift_share"), bound_label="dataset drift at")
        + f"</div><div><h3>Live {_e(metric)}</h3>"
        + line_chart(o.get("live") or [], label=f"live {metric}", bound=limit,
                     bound_label=f"{metric} bound")
        + "</div></div>"
    )  # fmt: skip


def _approvals(pending: list[dict[str, Any]], base: str) -> str:
    if not pending:
        return '<h3>Pending approvals</h3><p class="empty">None.</p>'
    items = "".join(
        f'<li><a target="_top" href="{_e(base)}/dags/{quote(p["dag_id"])}/runs/'
        f'{quote(p["run_id"])}/tasks/{quote(p["task_id"])}/required_actions">Answer</a> '
        f'{_e(p["text"])} <span class="muted">({_e(p["time"])}, run {_e(p["run_id"])})'
        "</span></li>"
        for p in pending
    )
    return f"<h3>Pending approvals</h3><ul>{items}</ul>"


def _canary(canary: dict[str, Any] | None) -> str:
    if not canary:
        return ""
    last = canary.get("last_measurement") or {}
    measured = f"; last measurement {_e(str(last.get('status', '')).upper())}" if last else ""
    return (
        f"<h3>Canary</h3><p>v{_e(canary['challenger'])} against champion "
        f"v{_e(canary.get('champion'))}: {_badge(canary['phase'])} at step "
        f"{int(canary['step']) + 1}, {_e(canary['weight'])}% of traffic{measured}"
        f"{'. ' + _e(canary['reason']) if canary.get('reason') else ''}</p>"
    )


def _versions(versions: list[dict[str, Any]], model: str) -> str:
    if not versions:
        return '<h3>Versions</h3><p class="empty">No model version registered yet.</p>'
    metrics = list(versions[0].get("metrics") or {})
    head = "".join(f"<th>{_e(m)} (holdout)</th>" for m in metrics)
    rows = []
    for v in versions:
        cells = "".join(f'<td class="num">{number(v["metrics"].get(m))}</td>' for m in metrics)
        rows.append(
            f"<tr><td>{_e(model)} v{_e(v['version'])}</td><td>{_e(human_list(v['aliases']))}</td>"
            f"<td>{_badge(v.get('gate'))}</td><td>{_badge(v.get('decision'))}</td>"
            f'<td class="num">{_e(number(_float(v.get("risk_score"))))}</td>{cells}'
            f"<td>{_e(v.get('created') or '')}</td></tr>"
        )
    return (
        "<h3>Versions</h3><table><thead><tr><th>version</th><th>aliases</th><th>gate</th>"
        f"<th>decision</th><th>risk score</th>{head}<th>registered</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table>"
    )  # fmt: skip


def _decisions(decisions: list[dict[str, Any]], base: str) -> str:
    if not decisions:
        return ""
    items = "".join(
        f'<li><span class="muted">{_e(d["time"])}</span> <a target="_top" href="{_e(base)}'
        f'/dags/{quote(d["dag_id"])}/runs/{quote(d["run_id"])}">{_e(d["dag_id"])}</a>: '
        f"{_e(d['text'])}</li>"
        for d in decisions
    )
    return f"<h3>Recent decisions</h3><ul>{items}</ul>"


def _errors(errors: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<h3>{_e(file)}</h3><pre>{_e(message)}</pre>" for file, message in errors)
    return (
        f'<h2 class="bad">Configuration errors ({len(errors)})</h2><p>These YAMLs build no '
        f"DAGs until fixed; <code>airflow-mlops validate</code> shows the same.</p>{items}"
    )


def _badge(value: Any) -> str:
    if value in (None, ""):
        return '<span class="muted">n/a</span>'
    text = str(value)
    kind = "ok" if text in _GOOD else "bad" if text in _BAD else "wait"
    return f'<span class="badge {kind}">{_e(text.replace("_", " "))}</span>'


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
