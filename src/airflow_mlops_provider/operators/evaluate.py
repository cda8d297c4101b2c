"""EvaluateOperator: challenger vs champion on the same holdout, then the gate decides."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.links import GateReportLink
from airflow_mlops_provider.operators.base import PipelineBranchOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

REPORT_KEY = "gate_report"


class EvaluateOperator(PipelineBranchOperator):
    """Score both models on the same holdout, apply the gate and risk score, branch on it.

    The holdout is `evaluation.holdout` (a fixed golden set) or the validated snapshot's. The
    baseline is the current champion — or, when the challenger already is the champion (this
    task was cleared after promotion), the previous champion, so a re-run reaches the same
    decision. Everything measured is logged to the challenger's run (`gate.*` metrics, the
    report as artifacts `gate/gate.html` and `gate/gate.json`), the decision is tagged on the
    version, pushed under XCom "gate", and the report is the task's "Gate report" link.
    """

    operator_extra_links = (GateReportLink(),)
    ui_color = "#e4dcfb"

    def __init__(
        self,
        *,
        promote_branch: str,
        reject_branch: str,
        approval_branch: str | None = None,
        train_task_id: str = "retrain",
        snapshot_task_id: str = "validate_data",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.promote_branch = promote_branch
        self.reject_branch = reject_branch
        self.approval_branch = approval_branch
        self.train_task_id = train_task_id
        self.snapshot_task_id = snapshot_task_id

    def choose_branch(self, context: Context) -> str:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        ti = context["ti"]
        trained = ti.xcom_pull(task_ids=self.train_task_id)
        holdout_uri = (
            self.spec.evaluation.holdout
            or ti.xcom_pull(task_ids=self.snapshot_task_id)["holdout_uri"]
        )
        holdout = self._holdout(holdout_uri)
        name = self.spec.model_name
        self.mlflow.set_registered_model_alias(name, registry.CHALLENGER, trained["version"])
        baseline = self._baseline(trained["version"])
        result = self._judge(trained, baseline, holdout)
        result["holdout"] = self.storage.resolve(holdout_uri)
        result["report"] = self._record(context, trained, result)
        self.log.info(
            "Gate: %s (risk score %.2f): %s",
            result["decision"].upper(),
            result["risk"]["score"],
            "; ".join(result["reasons"]),
        )
        ti.xcom_push(key="gate", value=result)
        self.audit(context, "gated", _audit_details(result))
        return self._branch(result["decision"])

    def _branch(self, decision: str) -> str:
        if decision == "promote":
            return self.promote_branch
        if decision == "approval":
            if self.approval_branch is None:  # the factory adds `approve` unless mode: never
                raise ValueError("the gate asks for approval but this DAG has no approval task")
            return self.approval_branch
        return self.reject_branch

    def _holdout(self, uri: str) -> Any:
        """The scored rows; a golden set must carry the features, target and group columns."""
        from airflow_mlops_provider.core.text import human_list
        from airflow_mlops_provider.exceptions import MlopsConfigError

        fmt = "csv" if uri.endswith(".csv") else "parquet"
        frame = self.storage.read_frame(uri, fmt)
        fairness = self.spec.evaluation.fairness
        needed = [
            *self.spec.data.features.all,
            self.spec.data.target,
            *(fairness.group_columns if fairness else []),
        ]
        missing = [c for c in needed if c not in frame.columns]
        if missing or frame.empty:
            raise MlopsConfigError(
                f"evaluation holdout {uri} has no rows or lacks column(s) {human_list(missing)}; "
                "a golden set (evaluation.holdout) needs the features, the target and the "
                "fairness group columns"
            )
        return frame

    def _baseline(self, challenger_version: str) -> Any:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        champion = registry.by_alias(self.mlflow, self.spec.model_name, registry.CHAMPION)
        if champion is not None and champion.version == challenger_version:
            return registry.by_alias(self.mlflow, self.spec.model_name, registry.PREVIOUS)
        return champion

    def _judge(self, trained: dict[str, Any], baseline: Any, holdout: Any) -> dict[str, Any]:
        """Load both models as MLflow pyfuncs and evaluate them with the gate's core."""
        import mlflow

        from airflow_mlops_provider.core.evaluation import evaluate

        challenger = mlflow.pyfunc.load_model(trained["model_uri"])
        champion = mlflow.pyfunc.load_model(baseline.uri) if baseline else None
        result = evaluate(
            holdout=holdout,
            challenger=challenger.predict,
            champion=champion.predict if champion else None,
            data=self.spec.data,
            evaluation=self.spec.evaluation,
            approval=self.spec.approval,
        )
        return {
            **result,
            "challenger": trained["version"],
            "champion": baseline.version if baseline else None,
        }

    def _record(self, context: Context, trained: dict[str, Any], result: dict[str, Any]) -> str:
        """Metrics and report to the challenger's run, tags on its version, report to storage."""
        from airflow_mlops_provider.adapters import mlflow_registry as registry
        from airflow_mlops_provider.core.gate_report import render_html

        run_id = trained["run_id"]
        for metric, value in _loggable(result).items():
            self.mlflow.log_metric(run_id, metric, value)
        title = f"Gate: {self.spec.model_name} v{trained['version']} ({result['decision']})"
        html, document = render_html(result, title=title), json.dumps(result, indent=2, default=str)
        folder = self.storage.join(self.run_folder(context), self.task_id)
        self.storage.write_text(self.storage.join(folder, "gate.json"), document)
        report = self.storage.write_text(self.storage.join(folder, "gate.html"), html)
        context["ti"].xcom_push(key=REPORT_KEY, value=report)
        self.mlflow.log_text(run_id, html, "gate/gate.html")
        self.mlflow.log_text(run_id, document, "gate/gate.json")
        tags = {
            "mlops.gate": result["decision"],
            "mlops.gate_reasons": "; ".join(result["reasons"])[:4000],
            "mlops.risk_score": f"{result['risk']['score']:.4f}",
            "mlops.gate_report": report,
        }
        for key, value in tags.items():
            self.mlflow.set_tag(run_id, key, value)
        registry.tag_version(self.mlflow, self.spec.model_name, trained["version"], tags)
        return report


def _loggable(result: dict[str, Any]) -> dict[str, float]:
    """Flat `gate.*` metrics for the challenger's run (NaN and None left out)."""
    import math

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
