"""Release steps: promotion (direct until canary lands), rejection and rollback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.operators.base import PipelineOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class CanaryPromoteOperator(PipelineOperator):
    """Make the challenger the champion; remembers the old one as `previous_champion`.

    Canary rollout is not configured in this release, so promotion is direct (and the log
    says so). Idempotent: clearing this task after success moves no alias.
    """

    ui_color = "#d6f0ff"

    def __init__(self, *, train_task_id: str = "retrain", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train_task_id = train_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        version = context["ti"].xcom_pull(task_ids=self.train_task_id)["version"]
        self.log.info("Canary rollout is not configured: promoting version %s directly", version)
        moved = registry.promote(self.mlflow, self.spec.model_name, version)
        registry.tag_version(
            self.mlflow, self.spec.model_name, version, {"mlops.decision": "promoted"}
        )
        if moved["changed"]:
            self.audit(context, "promoted", moved)
        else:
            self.log.info("Version %s already is the champion; nothing moved", version)
        return moved


class RejectOperator(PipelineOperator):
    """Record the gate's rejection on the version and in the audit log; aliases stay put."""

    ui_color = "#f8d7da"

    def __init__(self, *, gate_task_id: str = "evaluate", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate_task_id = gate_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        gate = context["ti"].xcom_pull(task_ids=self.gate_task_id, key="gate")
        registry.tag_version(
            self.mlflow, self.spec.model_name, gate["challenger"], {"mlops.decision": "rejected"}
        )
        self.log.info("Version %s rejected: %s", gate["challenger"], "; ".join(gate["reasons"]))
        self.audit(context, "rejected", {"version": gate["challenger"], "reasons": gate["reasons"]})
        return {"rejected": gate["challenger"], "reasons": gate["reasons"]}


class RollbackOperator(PipelineOperator):
    """Move `champion` back to the `version` param, or to `previous_champion`; idempotent."""

    ui_color = "#ffe5b4"

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        wanted = context["params"].get("version")
        moved = registry.rollback(
            self.mlflow, self.spec.model_name, str(wanted) if wanted else None
        )
        if moved["changed"]:
            registry.tag_version(
                self.mlflow, self.spec.model_name, moved["from"], {"mlops.decision": "rolled_back"}
            )
            self.audit(context, "rolled_back", moved)
        self.log.info(
            "Champion is version %s (%s)",
            moved["champion"],
            "moved" if moved["changed"] else "already there; nothing moved",
        )
        return moved
