"""EvaluateOperator: challenger vs champion on the same holdout, then the gate decides."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.operators.base import PipelineBranchOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class EvaluateOperator(PipelineBranchOperator):
    """Score both models on the snapshot's holdout, apply the gate, branch on its decision.

    The baseline is the current champion — or, when the challenger already is the champion
    (this task was cleared after promotion), the previous champion, so a re-run reaches the
    same decision. Metrics are logged to the challenger's run as `gate.<metric>` and
    `gate.champion.<metric>`; the decision is tagged on the version and pushed under "gate".
    """

    ui_color = "#e4dcfb"

    def __init__(
        self,
        *,
        promote_branch: str,
        reject_branch: str,
        train_task_id: str = "retrain",
        snapshot_task_id: str = "validate_data",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.promote_branch = promote_branch
        self.reject_branch = reject_branch
        self.train_task_id = train_task_id
        self.snapshot_task_id = snapshot_task_id

    def choose_branch(self, context: Context) -> str:
        from airflow_mlops_provider.adapters import mlflow_registry as registry
        from airflow_mlops_provider.core.gate import decide

        ti = context["ti"]
        trained = ti.xcom_pull(task_ids=self.train_task_id)
        holdout = self.storage.read_frame(
            ti.xcom_pull(task_ids=self.snapshot_task_id)["holdout_uri"]
        )
        name = self.spec.model_name
        self.mlflow.set_registered_model_alias(name, registry.CHALLENGER, trained["version"])
        baseline = self._baseline(trained["version"])
        challenger_metrics = self._score(trained["model_uri"], holdout)
        champion_metrics = self._score(baseline.uri, holdout) if baseline else None
        decision = decide(
            self.spec.evaluation.metrics,
            challenger_metrics,
            champion_metrics,
            on_missing_champion=self.spec.evaluation.on_missing_champion,
        )
        result = {
            "decision": decision.decision,
            "reasons": list(decision.reasons),
            "challenger": trained["version"],
            "champion": baseline.version if baseline else None,
            "challenger_metrics": challenger_metrics,
            "champion_metrics": champion_metrics,
            "report": self._record(context, trained, decision),
        }
        self.log.info("Gate: %s\n%s", decision.decision.upper(), "\n".join(decision.reasons))
        ti.xcom_push(key="gate", value=result)
        self.audit(context, "gated", result)
        return self.promote_branch if decision.decision == "promote" else self.reject_branch

    def _baseline(self, challenger_version: str) -> Any:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        champion = registry.by_alias(self.mlflow, self.spec.model_name, registry.CHAMPION)
        if champion is not None and champion.version == challenger_version:
            return registry.by_alias(self.mlflow, self.spec.model_name, registry.PREVIOUS)
        return champion

    def _score(self, model_uri: str, holdout: Any) -> dict[str, float]:
        import mlflow

        from airflow_mlops_provider.core.metrics import compute

        data = self.spec.data
        model = mlflow.pyfunc.load_model(model_uri)
        scores = model.predict(holdout[data.features.all])
        return compute(
            list(self.spec.evaluation.metrics),
            holdout[data.target],
            scores,
            threshold=self.spec.evaluation.threshold,
        )

    def _record(self, context: Context, trained: dict[str, Any], decision: Any) -> str:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        for verdict in decision.verdicts:
            for prefix, value in (
                ("gate.", verdict.challenger),
                ("gate.champion.", verdict.champion),
            ):
                if value is not None:
                    self.mlflow.log_metric(trained["run_id"], prefix + verdict.metric, value)
        registry.tag_version(
            self.mlflow,
            self.spec.model_name,
            trained["version"],
            {
                "mlops.gate": decision.decision,
                "mlops.gate_reasons": "; ".join(decision.reasons)[:4000],
            },
        )
        folder = self.storage.join(self.run_folder(context), self.task_id)
        return self.storage.write_text(
            self.storage.join(folder, "gate.json"), json.dumps(decision.to_dict(), indent=2)
        )
