"""EvaluateOperator: challenger vs champion on the same holdout, then the gate decides."""

from __future__ import annotations

import json
from dataclasses import asdict
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
        result |= {"holdout": self.storage.resolve(holdout_uri), "holdout_rows": len(holdout)}
        result["report"] = self._record(context, trained, result)
        self.log.info(
            "Gate: %s (risk score %.2f)\n%s",
            result["decision"].upper(),
            result["risk"]["score"],
            "\n".join(result["reasons"]),
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
                f"evaluation holdout {uri} has no rows or lacks column(s) {missing}; "
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
        """Measure both models, then apply the bounds, hard limits and risk policy."""
        from airflow_mlops_provider.core.gate import judge

        approval = self.spec.approval
        challenger = self._measure(trained["model_uri"], holdout)
        champion = self._measure(baseline.uri, holdout) if baseline else None
        disagreement = self._disagreement(challenger, champion) if champion else None
        checks = self._checks(challenger, disagreement)
        decision = judge(
            self.spec.evaluation.metrics,
            challenger["metrics"],
            champion["metrics"] if champion else None,
            checks,
            self._policy(),
        )
        return _plain(
            {
                "decision": decision.decision,
                "reasons": decision.reasons,
                "challenger": trained["version"],
                "champion": baseline.version if baseline else None,
                "challenger_metrics": challenger["metrics"],
                "champion_metrics": champion["metrics"] if champion else None,
                "verdicts": [asdict(v) for v in decision.verdicts],
                "checks": [asdict(c) for c in decision.checks],
                "champion_checks": {name: value for name, _, value in self._limits(champion)},
                "risk": decision.risk.to_dict() if decision.risk else None,
                "approve_above": approval.approve_above,
                "reject_above": approval.reject_above,
                "approval_mode": approval.mode,
                "fairness": challenger["fairness"],
                "champion_fairness": champion["fairness"] if champion else None,
                "latency": {
                    "challenger": challenger["latency"],
                    "champion": champion["latency"] if champion else None,
                },
                "disagreement": disagreement,
            }
        )

    def _policy(self) -> Any:
        from airflow_mlops_provider.core.gate import Policy

        approval = self.spec.approval
        return Policy(
            mode=approval.mode,
            approve_above=approval.approve_above,
            reject_above=approval.reject_above,
            soft_limit=approval.soft_limit,
            weights=approval.weights.model_dump(),
            on_missing_champion=self.spec.evaluation.on_missing_champion,
        )

    def _measure(self, model_uri: str, holdout: Any) -> dict[str, Any]:
        """Scores, metrics, fairness by group and p95 batch latency of one model."""
        import mlflow

        from airflow_mlops_provider.core import latency
        from airflow_mlops_provider.core.metrics import compute, to_scores

        evaluation, data = self.spec.evaluation, self.spec.data
        model = mlflow.pyfunc.load_model(model_uri)
        inputs = holdout[data.features.all]
        scores = to_scores(model.predict(inputs))
        measured = {
            "scores": scores,
            "metrics": compute(
                list(evaluation.metrics),
                holdout[data.target],
                scores,
                threshold=evaluation.threshold,
            ),
            "latency": latency.measure(
                model.predict,
                inputs,
                batch_size=evaluation.latency.batch_size,
                repeats=evaluation.latency.repeats,
            ),
            "fairness": None,
        }
        if evaluation.fairness is not None:
            measured["fairness"] = self._fairness(holdout, scores)
        return measured

    def _fairness(self, holdout: Any, scores: Any) -> dict[str, Any]:
        from airflow_mlops_provider.core.fairness import group_fairness, group_labels

        fairness = self.spec.evaluation.fairness
        assert fairness is not None
        return group_fairness(
            group_labels(holdout, fairness.group_columns),
            holdout[self.spec.data.target],
            scores >= self.spec.evaluation.threshold,
            min_group_size=fairness.min_group_size,
        ).to_dict()

    def _disagreement(self, challenger: dict[str, Any], champion: dict[str, Any]) -> float:
        from airflow_mlops_provider.core.gate import disagreement

        return disagreement(
            challenger["scores"],
            champion["scores"],
            regression=self.spec.data.task == "regression",
            threshold=self.spec.evaluation.threshold,
            tolerance=self.spec.evaluation.disagreement.tolerance,
        )

    def _checks(self, challenger: dict[str, Any], disagreement: float | None) -> list[Any]:
        """Hard limits: fairness gaps, p95 latency budget, disagreement with the champion."""
        from airflow_mlops_provider.core.gate import limit_check

        checks = [
            limit_check(name, name.split(".")[0], value, limit)
            for name, limit, value in self._limits(challenger)
        ]
        if disagreement is not None:
            limit = self.spec.evaluation.disagreement.max
            checks.append(limit_check("disagreement", "disagreement", disagreement, limit))
        return checks

    def _limits(self, measured: dict[str, Any] | None) -> list[tuple[str, float, float | None]]:
        """(check name, limit, measured value) of the limits that apply to one model."""
        evaluation = self.spec.evaluation
        found: list[tuple[str, float, float | None]] = []
        if measured is None:
            return found
        fairness = evaluation.fairness
        if fairness is not None:
            groups = measured.get("fairness") or {}
            for key, limit in (
                ("demographic_parity_difference", fairness.max_demographic_parity_difference),
                ("equal_opportunity_difference", fairness.max_equal_opportunity_difference),
            ):
                if limit is not None:
                    found.append((f"fairness.{key}", limit, groups.get(key)))
        if evaluation.latency.max_p95_ms is not None:
            value = measured.get("latency", {}).get("p95_ms")
            found.append(("latency.p95_ms", evaluation.latency.max_p95_ms, value))
        return found

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


def _plain(value: Any) -> Any:
    """JSON types only (tuples to lists, numpy scalars to floats): XCom and the report agree."""
    return json.loads(json.dumps(value, default=float))


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
