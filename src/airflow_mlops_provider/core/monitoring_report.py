"""What monitoring decides and says: one decision from drift and live performance, the alert
text, and the daily health report. Pure functions over the plain dicts the tasks exchange
through XCom, so the wording is tested without Airflow and stays the same in Slack and logs.
"""

from __future__ import annotations

from typing import Any

TOP_SHOWN = 5


def causes(drift: dict[str, Any] | None, performance: dict[str, Any] | None) -> list[str]:
    """Why this window needs retraining: "drift", "performance", both or neither.

    Drift comes first so the retrain request's reason starts with what was seen first and is
    the most common cause; a missing input (no champion, no labels yet) is no cause."""
    found = []
    if drift and drift.get("dataset_drift"):
        found.append("drift")
    if performance and performance.get("status") == "decayed":
        found.append("performance")
    return found


def reason_of(drift: dict[str, Any] | None, performance: dict[str, Any] | None) -> str:
    parts = []
    for cause in causes(drift, performance):
        if cause == "drift":
            assert drift is not None
            parts.append(f"drift in {', '.join(drift.get('drifted_features') or ['features'])}")
        else:
            assert performance is not None
            parts.append(performance["reason"])
    return "; ".join(parts) or "no dataset drift, no performance decay"


def top_drifted(drift: dict[str, Any] | None, limit: int = TOP_SHOWN) -> list[str]:
    """Most severe drifted features as lines: from the drift engine's `top` list when it
    gives one (test, value, threshold), else just the drifted feature names."""
    if not drift:
        return []
    top = [t for t in drift.get("top") or [] if t.get("drifted")]
    if top:
        return [
            f"{t['feature']} ({t.get('test', '?')} {_num(t.get('value'))}, "
            f"threshold {_num(t.get('threshold'))})"
            for t in top[:limit]
        ]
    return list(drift.get("drifted_features") or [])[:limit]


def performance_line(performance: dict[str, Any] | None) -> str:
    """The live metric in one line, or why there is none."""
    if not performance:
        return "live metric: not assessed (no labels configured or none yet)"
    if performance.get("status") in ("not_assessed", "too_few_labels"):
        return f"live metric: not assessed ({performance['reason']})"
    if performance.get("value") is None:
        return f"live metric: {performance['reason'].removeprefix('performance: ')}"
    bound = performance.get("bound") or {}
    limit = ", ".join(f"{k} {v:g}" for k, v in bound.items())
    stats = performance.get("stats") or {}
    verdict = "DECAYED" if performance["status"] == "decayed" else "ok"
    return (
        f"live metric: {performance['metric']} {_num(performance['value'])} ({limit}) — "
        f"{verdict}; "
        f"{stats.get('labelled_rows')} labelled of {stats.get('window_rows')} requests"
    )


def drift_line(drift: dict[str, Any] | None) -> str:
    if not drift or "dataset_drift" not in drift:
        return f"drift: not checked ({(drift or {}).get('reason', 'no result')})"
    share = drift.get("drifted_share")
    status = "DRIFT" if drift["dataset_drift"] else "no dataset drift"
    if drift.get("verdict") == "not_enough_evidence":  # a verdict of its own, never "no drift"
        unjudged = ", ".join(drift.get("unjudged_features") or []) or "features"
        status = f"NOT ENOUGH EVIDENCE ({unjudged} could not be judged)"
    line = f"drift: {status} ({_num(share)} of features drifted, vs champion v"
    line += f"{drift.get('champion_version')})"
    if drift.get("prediction_drift") is not None:
        line += f"; prediction drift: {'yes' if drift['prediction_drift'] else 'no'}"
    return line


def alert_text(pipeline: str, run_id: str, decision: dict[str, Any]) -> str:
    """The Slack alert for drift or decay: what, the top features, the metric, the links."""
    drift, performance = decision.get("drift"), decision.get("performance")
    what = " and ".join(
        {"drift": "Drift", "performance": "performance decay"}[c] for c in decision["causes"]
    )
    lines = [f":warning: {pipeline}: {what} detected ({run_id})", f"Reason: {decision['reason']}"]
    features = top_drifted(drift)
    if features:
        lines.append("Top drifted features:")
        lines += [f"  • {f}" for f in features]
    lines += [drift_line(drift), performance_line(performance)]
    if decision.get("cooldown"):
        lines.append(f"Retraining not requested again: {decision['cooldown']}")
    elif decision.get("retrain_requested"):
        lines.append("Retraining requested (mlops retrain-request event).")
    reports = (
        ("Drift report", "report"),
        ("Drift report (JSON)", "report_json"),
        ("Performance report", "performance_report"),
    )
    for label, key in reports:
        if decision.get(key):
            lines.append(f"{label}: {decision[key]}")
    return "\n".join(lines)


def health_report(
    pipeline: str,
    *,
    status: dict[str, Any] | None,
    champion: dict[str, Any] | None,
    last_training: dict[str, Any] | None,
    generated_at: str,
) -> dict[str, Any]:
    """The daily health report as JSON: latest monitoring decision, live metric, champion and
    last training (the newest registered version, promoted or not)."""
    return {
        "pipeline": pipeline,
        "generated_at": generated_at,
        "monitoring": status,
        "champion": champion,
        "last_training": last_training,
    }


def health_text(report: dict[str, Any]) -> str:
    status = report.get("monitoring")
    champion, last = report.get("champion"), report.get("last_training")
    lines = [f":bar_chart: {report['pipeline']}: daily health report ({report['generated_at']})"]
    if status is None:
        lines.append("monitoring: no monitoring run yet")
    else:
        lines.append(
            f"monitoring: {status['status']} — {status['reason']} "
            f"(run {status['run_id']}, window {status.get('window')})"
        )
        lines.append(drift_line(status.get("drift")))
        features = top_drifted(status.get("drift"))
        if features:
            lines.append("top drifted features: " + "; ".join(features))
        lines.append(performance_line(status.get("performance")))
    lines.append(
        f"champion: v{champion['version']} (since {champion['created']})"
        if champion
        else "champion: none yet"
    )
    lines.append(
        f"last training: v{last['version']} at {last['created']}, gate {last.get('gate') or 'n/a'}"
        if last
        else "last training: none yet"
    )
    return "\n".join(lines)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "n/a" if value is None else str(value)
