"""Release steps: canary promotion, rejection and rollback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.text import human_value
from airflow_mlops_provider.operators.base import PipelineOperator
from airflow_mlops_provider.run_note import note_decision

if TYPE_CHECKING:
    from airflow.sdk import Context

PAUSE_OPTIONS = ["continue", "promote", "rollback"]


class CanaryPromoteOperator(PipelineOperator):
    """Roll the challenger out by `canary.steps`, then make it the champion — or roll back.

    Each step is carried out by the rollout driver (adapters/rollout.py) from the state it
    keeps in storage and MLflow, so clearing this task, a retry or a killed worker resumes
    where the router is. Waits (pauses, analysis intervals) DEFER on a DateTimeTrigger: no
    worker slot is held; the task re-enters in `resume`. An inconclusive analysis or a
    `pause: {}` asks a person through Airflow's Human-in-the-loop (Required actions:
    continue / promote / rollback). A failed analysis reverts traffic, leaves `champion`
    untouched and fails the task without retries. With `canary.enabled: false`, or no
    champion yet (nothing to compare against), promotion is direct. Idempotent.
    """

    template_fields = ("replay_source", "logs_source")
    ui_color = "#d6f0ff"

    def __init__(
        self,
        *,
        train_task_id: str = "retrain",
        gate_task_id: str = "evaluate",
        snapshot_task_id: str = "validate_data",
        replay_source: str | None = None,
        logs_source: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.train_task_id = train_task_id
        self.gate_task_id = gate_task_id
        self.snapshot_task_id = snapshot_task_id
        self.replay_source = replay_source
        self.logs_source = logs_source

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        version = context["ti"].xcom_pull(task_ids=self.train_task_id)["version"]
        champion = self._champion(context, version)
        if self.spec.canary.enabled and champion is not None:
            return self._advance(context)
        why = "Canary is not enabled" if not self.spec.canary.enabled else "No champion yet"
        self.log.info("%s: promoting version %s directly", why, version)
        moved = registry.promote(self.mlflow, self.spec.model_name, version)
        registry.tag_version(
            self.mlflow, self.spec.model_name, version, {"mlops.decision": "promoted"}
        )
        if moved["changed"]:
            self.audit(context, "promoted", moved)
        else:
            self.log.info("Version %s already is the champion; nothing moved", version)
        return moved

    def resume(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Re-entry after a deferred wait: carry on from the persisted state."""
        return self._advance(context)

    def answered(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Re-entry after a person answered a pause (Airflow HITL)."""
        choice = (event.get("chosen_options") or ["continue"])[0]
        user = event.get("responded_by_user") or {}
        actor = user.get("name") or user.get("id") or "timeout-default"
        self.log.info("Canary pause answered by %s: %s", actor, choice)
        self._rollout(context).answer(choice, actor)
        return self._advance(context)

    def _advance(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.core import canary

        rollout = self._rollout(context)
        action, state = rollout.advance()
        if action.kind == canary.WAIT:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            moment = datetime.fromtimestamp(float(action.until or 0), UTC)
            self.log.info("Canary waits until %s (deferred: no worker slot held)", moment)
            self.defer(trigger=DateTimeTrigger(moment=moment), method_name="resume")
        if action.kind == canary.PAUSE:
            self._ask_person(context, action.reason, state)
        result = {
            "version": state.challenger,
            "champion": state.challenger if state.phase == canary.PROMOTED else state.champion,
            "decision": state.phase,
            "reason": state.reason,
            "steps": len(state.history),
        }
        if state.phase == canary.ROLLED_BACK:
            from airflow.exceptions import AirflowFailException

            note_decision(context, f"Canary of v{state.challenger} rolled back: {state.reason}")
            raise AirflowFailException(
                f"Canary of version {state.challenger} rolled back: {state.reason}. Traffic and "
                f"`champion` stay on version {state.champion}. Clearing this task changes "
                "nothing; train again to try a new challenger."
            )
        return result

    def _ask_person(self, context: Context, reason: str, state: Any) -> None:
        from airflow.sdk.exceptions import TaskAwaitingInput
        from airflow.sdk.execution_time.hitl import upsert_hitl_detail

        upsert_hitl_detail(
            ti_id=context["task_instance"].id,
            options=PAUSE_OPTIONS,
            subject=f"Canary of {self.spec.model_name} v{state.challenger} is paused",
            body=f"{reason}\n\nTraffic: {state.weight}% on v{state.challenger}, the rest on "
            f"v{state.champion}. continue: next step; promote: make it the champion now; "
            "rollback: revert traffic and keep the champion.",
            multiple=False,
            params={},
        )
        self.log.info("Canary paused for a person: %s", reason)
        self.notify(
            f":pause_button: {self.spec.model_name} v{state.challenger} canary paused at "
            f"{state.weight}% — {reason}. Answer in Airflow (Required actions): continue, "
            "promote or rollback."
        )
        raise TaskAwaitingInput(method_name="answered")

    def _champion(self, context: Context, version: str) -> str | None:
        gate = context["ti"].xcom_pull(task_ids=self.gate_task_id, key="gate") or {}
        champion = gate.get("champion")
        return str(champion) if champion and str(champion) != str(version) else None

    def _rollout(self, context: Context) -> Any:
        from airflow_mlops_provider.adapters import rollout
        from airflow_mlops_provider.operators.base import _connection

        ti = context["ti"]
        version = ti.xcom_pull(task_ids=self.train_task_id)["version"]
        snapshot = ti.xcom_pull(task_ids=self.snapshot_task_id) or {}
        prometheus = self.spec.canary.prometheus
        url = None
        if prometheus is not None and prometheus.url_connection:
            conn = _connection(prometheus.url_connection)
            if conn is None or not conn.host:
                from airflow_mlops_provider.exceptions import MlopsConfigError

                raise MlopsConfigError(
                    f"canary.prometheus.url_connection: Airflow connection "
                    f"{prometheus.url_connection!r} is missing or has no host"
                )
            url = conn.host if "://" in conn.host else f"{conn.schema or 'http'}://{conn.host}"
            url += f":{conn.port}" if conn.port else ""
        return rollout.build(
            self.spec,
            storage=self.storage,
            pipeline_root=self.pipeline_root,
            mlflow_client=self.mlflow,
            challenger=str(version),
            champion=str(self._champion(context, version)),
            holdout_uri=snapshot.get("holdout_uri"),
            replay_source=self.replay_source,
            logs_source=self.logs_source,
            prometheus_url=url,
            audit=lambda event, details, actor: self.audit(context, event, details, actor),
            notify=self.notify,
        )


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
    """Move `champion` back to the `version` param, or to `previous_champion`, and revert the
    traffic through the configured router; running it twice changes nothing the second time."""

    ui_color = "#ffe5b4"

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        wanted = context["params"].get("version")
        moved = registry.rollback(
            self.mlflow, self.spec.model_name, str(wanted) if wanted else None
        )
        traffic = self._revert_traffic(moved["champion"])
        if moved["changed"]:
            registry.tag_version(
                self.mlflow, self.spec.model_name, moved["from"], {"mlops.decision": "rolled_back"}
            )
            self.audit(context, "rolled_back", {**moved, "traffic": traffic})
        note_decision(
            context,
            f"Champion is v{moved['champion']} ({'moved' if moved['changed'] else 'unchanged'})",
        )
        self.log.info(
            "Champion is version %s (%s); router: %s",
            moved["champion"],
            "moved" if moved["changed"] else "already there; nothing moved",
            human_value(traffic),
        )
        return {**moved, "traffic": traffic}

    def _revert_traffic(self, champion: str) -> dict[str, Any] | None:
        """All traffic on the champion (only when a canary router is configured)."""
        if not self.spec.canary.enabled:
            return None
        from airflow_mlops_provider.adapters.rollout import router_for

        router = router_for(self.spec, self.storage, self.pipeline_root, self.mlflow)
        now = router.current()
        if now.get("stable") == str(champion) and not now.get("canary"):
            return now
        return router.rollback(str(champion))
