"""Evaluate a challenger: both models on the same holdout, then the gate decides.

The holdout is `evaluation.holdout` (a fixed golden set) or the validated snapshot's. The
baseline is the current champion — or, when the challenger already is the champion (the task
was cleared after promotion), the previous champion, so a re-run reaches the same decision.
Everything measured is logged to the challenger's run (`gate.*` metrics, the report as
artifacts `gate/gate.html` and `gate/gate.json`) and the decision is tagged on the run and the
version. Measuring and judging are core/evaluation.py and core/gate.py.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.services.runtime import GATE_REPORT_LINK

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops_provider.adapters.mlflow_registry import Version
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import ApprovalSpec, DataSpec, EvaluationSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateResult:
    """The gate's JSON result: decision (promote / approval / reject), reasons, every
    measurement, the risk score, the holdout and the report's URI."""

    result: dict[str, Any]

    @property
    def decision(self) -> str:
        return self.result["decision"]

    def to_xcom(self) -> dict[str, Any]:
        return self.result


def evaluate_challenger(
    rt: Runtime,
    *,
    challenger: Mapping[str, Any],
    holdout_uri: str,
    data: DataSpec,
    evaluation: EvaluationSpec,
    approval: ApprovalSpec,
) -> GateResult:
    """Gate the trained model (`version`, `run_id`, `model_uri`: what training returned)
    against the champion on the holdout at `holdout_uri`."""
    from airflow_mlops_provider.adapters.mlflow_registry import CHALLENGER

    holdout = _holdout(rt, holdout_uri, data, evaluation)
    rt.registry.set_alias(CHALLENGER, challenger["version"])
    baseline = _baseline(rt, challenger["version"])
    result = _judge(rt, challenger, baseline, holdout, data, evaluation, approval)
    result["holdout"] = rt.storage.resolve(holdout_uri)
    result["report"] = _record(rt, challenger, result)
    log.info(
        "Gate: %s (risk score %.2f): %s",
        result["decision"].upper(),
        result["risk"]["score"],
        "; ".join(result["reasons"]),
    )
    rt.audit("gated", _audit_details(result))
    return GateResult(result)


def _holdout(rt: Runtime, uri: str, data: DataSpec, evaluation: EvaluationSpec) -> pd.DataFrame:
    """The scored rows; a golden set must carry the features, target and group columns."""
    from airflow_mlops_provider.core.text import human_list
    from airflow_mlops_provider.exceptions import MlopsConfigError

    fmt = "csv" if uri.endswith(".csv") else "parquet"
    frame = rt.storage.read_frame(uri, fmt)
    fairness = evaluation.fairness
    needed = [*data.features.all, data.target, *(fairness.group_columns if fairness else [])]
    missing = [c for c in needed if c not in frame.columns]
    if missing or frame.empty:
        raise MlopsConfigError(
            f"evaluation holdout {uri} has no rows or lacks column(s) {human_list(missing)}; "
            "a golden set (evaluation.holdout) needs the features, the target and the "
            "fairness group columns"
        )
    return frame


def _baseline(rt: Runtime, challenger_version: str) -> Version | None:
    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION, PREVIOUS

    champion = rt.registry.by_alias(CHAMPION)
    if champion is not None and champion.version == challenger_version:
        return rt.registry.by_alias(PREVIOUS)
    return champion


def _judge(
    rt: Runtime,
    challenger: Mapping[str, Any],
    baseline: Version | None,
    holdout: pd.DataFrame,
    data: DataSpec,
    evaluation: EvaluationSpec,
    approval: ApprovalSpec,
) -> dict[str, Any]:
    """Load both models as MLflow pyfuncs and evaluate them with the gate's core."""
    from airflow_mlops_provider.core.evaluation import evaluate

    mine = rt.registry.load_model(challenger["model_uri"])
    theirs = rt.registry.load_model(baseline.uri) if baseline else None
    result = evaluate(
        holdout=holdout,
        challenger=mine.predict,
        champion=theirs.predict if theirs else None,
        data=data,
        evaluation=evaluation,
        approval=approval,
    )
    return {
        **result,
        "challenger": challenger["version"],
        "champion": baseline.version if baseline else None,
    }


def _record(rt: Runtime, challenger: Mapping[str, Any], result: dict[str, Any]) -> str:
    """Metrics and report to the challenger's run, tags on its run and version, the report
    to storage (published as the gate report link)."""
    from airflow_mlops_provider.core.gate_report import render_html

    run_id, version = challenger["run_id"], challenger["version"]
    rt.registry.log_metrics(run_id, _loggable(result))
    title = f"Gate: {rt.registry.model_name} v{version} ({result['decision']})"
    html, document = render_html(result, title=title), json.dumps(result, indent=2, default=str)
    rt.storage.write_text(rt.task_folder("gate.json"), document)
    report = rt.storage.write_text(rt.task_folder("gate.html"), html)
    rt.publish(GATE_REPORT_LINK, report)
    rt.registry.log_texts(run_id, {"gate.html": html, "gate.json": document}, artifact_path="gate")
    tags = {
        "mlops.gate": result["decision"],
        "mlops.gate_reasons": "; ".join(result["reasons"])[:4000],
        "mlops.risk_score": f"{result['risk']['score']:.4f}",
        "mlops.gate_report": report,
    }
    rt.registry.set_run_tags(run_id, tags)
    rt.registry.tag_version(version, tags)
    return report


def _loggable(result: dict[str, Any]) -> dict[str, float]:
    """Flat `gate.*` metrics for the challenger's run (NaN and None left out)."""
    values: dict[str, Any] = {f"gate.{k}": v for k, v in result["challenger_metrics"].items()}
    values |= {f"gate.champion.{k}": v for k, v in (result["champion_metrics"] or {}).items()}
    values |= {f"gate.{c['name']}": c["value"] for c in result["checks"]}
    values |= {f"gate.risk.{k}": v for k, v in result["risk"]["factors"].items()}
    values["gate.risk_score"] = result["risk"]["score"]
    latency = result["latency"]
    values["gate.latency.p95_ms"] = latency["challenger"]["p95_ms"]
    if latency["champion"]:
        values["gate.champion.latency.p95_ms"] = latency["champion"]["p95_ms"]
    if result.get("disagreement") is not None:
        values["gate.disagreement"] = result["disagreement"]
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not math.isnan(float(v))
    }


def _audit_details(result: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a gate decision: the verdict and why, not every table."""
    return {
        "decision": result["decision"],
        "version": result["challenger"],
        "champion": result["champion"],
        "reasons": result["reasons"],
        "risk_score": result["risk"]["score"],
        "risk_factors": result["risk"]["factors"],
        "report": result["report"],
    }
