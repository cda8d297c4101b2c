"""Release steps: canary promotion, rejection and rollback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops_provider.operators.pods import RunsStepOnPod, delete_leftover_pod
from airflow_mlops_provider.operators.run_identity import BatchTemplated
from airflow_mlops_provider.operators.run_note import note_decision
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import CanarySpec, DataSpec, EvaluationSpec, StepPod

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops_provider.services.release import ReleasePlan, ReleaseStep
    from airflow_mlops_provider.services.runtime import Runtime


class CanaryPromoteOperator(RunsStepOnPod, BatchTemplated, BaseOperator):
    """Roll the gated challenger out by `canary.steps`, then make it the champion — or roll
    back.

    Each step is carried out by the rollout driver (services/rollout.py) from the state it
    keeps in storage and MLflow, so clearing this task, a retry or a killed worker resumes
    where the router is. Waits (pauses, analysis intervals) DEFER on a DateTimeTrigger: no
    worker slot is held; the task re-enters in `resume`. An inconclusive analysis or a
    `pause: {}` asks a person through Airflow's Human-in-the-loop (Required actions:
    continue / promote / rollback). A failed analysis reverts traffic, leaves `champion`
    untouched and fails the task without retries. With `canary.enabled: false`, or no
    champion yet (nothing to compare against), promotion is direct. Idempotent.

    With the local router each measurement scores a window of replayed requests with both
    models — in this worker, or with `pod` in a Kubernetes pod (`compute.replay: kubernetes`,
    by default in the trainer's image): the release asks for the window, the task stores the
    request, starts the pod and DEFERS on the provider's trigger, and on re-entry
    (`execute_complete`) calls the release again, which measures the written window. One pod
    per window; a window once written is never scored again (retries, clears).

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param canary: YAML block `canary` (`CanarySpec` or dict): router, metric source, steps.
    :param data: YAML block `data` (`DataSpec` or dict): target, features, id column.
    :param evaluation: YAML block `evaluation` (`EvaluationSpec` or dict): its `threshold`
        turns scores into classes for the canary's metrics.
    :param gate_task_id: task whose XCom "gate" names the version the gate judged; its gate
        record on the model version must be a pass against the current champion.
    :param snapshot_task_id: task whose XCom holds the snapshot (`holdout_uri`: requests to
        replay when `canary.replay.source` is not set).
    :param replay_source: `canary.replay.source` (templated).
    :param logs_source: `canary.inference_logs.source` (templated).
    :param pod: where the local router's windows are scored: a `StepPod` (or dict of it) for
        a Kubernetes pod per window, None (default) for this worker.
    """

    template_fields = ("replay_source", "logs_source")
    ui_color = "#d6f0ff"
    step = "replay"
    _scored: str | None = None  # the window the last replay pod of this worker call wrote

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        canary: CanarySpec | dict[str, Any],
        data: DataSpec | dict[str, Any],
        evaluation: EvaluationSpec | dict[str, Any],
        gate_task_id: str,
        snapshot_task_id: str,
        replay_source: str | None = None,
        logs_source: str | None = None,
        pod: StepPod | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.pod = as_block(StepPod, pod)
        self.canary = as_block(CanarySpec, canary)
        self.data = as_block(DataSpec, data)
        self.evaluation = as_block(EvaluationSpec, evaluation)
        self.gate_task_id = gate_task_id
        self.snapshot_task_id = snapshot_task_id
        self.replay_source = replay_source
        self.logs_source = logs_source

    def execute(self, context: Context) -> dict[str, Any]:
        if self.pod is not None:  # a replay pod an earlier try left after it wrote its window
            delete_leftover_pod(self._pod_operator(request_uri="", result_uri="", env={}), context)
        return self._release(context)

    def resume(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Re-entry after a deferred wait: carry on from the persisted state."""
        return self._release(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Re-entry after a replay pod ended: its log, its clean-up (a failed pod fails the
        task in one line, nothing measured), then the release measures the written window."""
        self._scored = self.step_result(context, event)["target"]
        return self._release(context)

    def _release(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.services.release import release

        gate = self._gate(context)
        return self._next(context, lambda rt, plan: release(rt, plan, gate=gate))

    def answered(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Re-entry after a person answered a pause (Airflow HITL)."""
        from airflow_mlops_provider.services.release import answer_pause

        user = event.get("responded_by_user") or {}
        gate = self._gate(context)
        return self._next(
            context,
            lambda rt, plan: answer_pause(
                rt,
                plan,
                gate=gate,
                choice=(event.get("chosen_options") or ["continue"])[0],
                actor=user.get("name") or user.get("id") or "timeout-default",
            ),
        )

    def _next(
        self, context: Context, step_of: Callable[[Runtime, ReleasePlan], ReleaseStep]
    ) -> dict[str, Any]:
        """Run the release step, then defer, ask a person, or return the result; a
        rolled-back canary or a refused release fails the task without retries."""
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.release import (
            PAUSE,
            PAUSE_OPTIONS,
            REPLAY,
            WAIT,
            ReleaseRefused,
            RolloutFailed,
        )

        rt = build_runtime(self.pipeline, context)
        try:
            step = step_of(rt, self._plan(context))
        except (RolloutFailed, ReleaseRefused) as exc:
            note_decision(context, exc.decision)
            raise AirflowFailException(str(exc)) from None
        if step.kind == REPLAY:
            return self._replay_in_pod(context, rt, step.result)
        if step.kind == WAIT:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            moment = datetime.fromtimestamp(step.until or 0.0, UTC)
            self.log.info("Canary waits until %s (deferred: no worker slot held)", moment)
            self.defer(trigger=DateTimeTrigger(moment=moment), method_name="resume")
        if step.kind == PAUSE:
            from airflow.sdk.exceptions import TaskAwaitingInput
            from airflow.sdk.execution_time.hitl import upsert_hitl_detail

            upsert_hitl_detail(
                ti_id=context["task_instance"].id,
                options=PAUSE_OPTIONS,
                subject=step.subject,
                body=step.body,
                multiple=False,
                params={},
            )
            raise TaskAwaitingInput(method_name="answered")
        return step.result

    def _replay_in_pod(
        self, context: Context, rt: Runtime, window: dict[str, Any]
    ) -> dict[str, Any]:
        """Score the window the release asked for in a pod (deferring until it ends), then
        carry on. The pod's window must then be there: asked for twice, it was not written."""
        from airflow_mlops_provider.exceptions import MlopsError
        from airflow_mlops_provider.services.replay import ReplayWindow

        wanted = ReplayWindow.from_json(window)
        if wanted.target == self._scored:
            raise MlopsError(
                f"the replay pod of window {wanted.part} ended without writing "
                f"{wanted.target}; its log is above; clearing this task scores the window again"
            )
        versions = wanted.versions
        self.log.info(
            "Canary window %s: v%s and v%s score %s in a replay pod",
            wanted.part,
            versions["canary"],
            versions["champion"],
            wanted.target,
        )
        self._scored = self.run_step(context, rt, window, part=wanted.part)["target"]
        return self._release(context)  # the pod had already ended when this try found it

    def _gate(self, context: Context) -> dict[str, Any] | None:
        """The gate's result (which version it judged); the registry's record on that
        version decides whether it may be released (services/release.py)."""
        return context["ti"].xcom_pull(task_ids=self.gate_task_id, key="gate")

    def _plan(self, context: Context) -> ReleasePlan:
        from airflow_mlops_provider.services.release import ReleasePlan
        from airflow_mlops_provider.services.rollout import RolloutSources

        prometheus = self.canary.prometheus
        url = None
        if prometheus is not None and prometheus.url_connection:
            from airflow_mlops_provider.hooks.prometheus import PrometheusHook

            url = PrometheusHook(prometheus.url_connection).get_conn()
        snapshot = context["ti"].xcom_pull(task_ids=self.snapshot_task_id) or {}
        return ReleasePlan(
            canary=self.canary,
            data=self.data,
            threshold=self.evaluation.threshold,
            kubernetes_conn_id=self.pipeline.connections.kubernetes,
            sources=RolloutSources(
                holdout_uri=snapshot.get("holdout_uri"),
                replay_source=self.replay_source,
                logs_source=self.logs_source,
                prometheus_url=url,
            ),
            replay_in_pod=self.pod is not None,
        )


class RejectOperator(BaseOperator):
    """Record the gate's rejection on the version and in the audit log; aliases stay put.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param gate_task_id: task whose XCom "gate" holds the gate's result.
    """

    ui_color = "#f8d7da"

    def __init__(
        self, *, pipeline: PipelineConfig | dict[str, Any], gate_task_id: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.gate_task_id = gate_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.release import reject

        gate = context["ti"].xcom_pull(task_ids=self.gate_task_id, key="gate")
        return reject(build_runtime(self.pipeline, context), gate=gate)


class RollbackOperator(BaseOperator):
    """Move `champion` back to the `version` DAG param, or to `previous_champion`, and revert
    the traffic through the configured router; running it twice changes nothing the second
    time.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param canary: YAML block `canary` (`CanarySpec` or dict): the router to revert.
    """

    ui_color = "#ffe5b4"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        canary: CanarySpec | dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.canary = as_block(CanarySpec, canary)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.release import rollback

        wanted = context["params"].get("version")
        moved = rollback(
            build_runtime(self.pipeline, context),
            canary=self.canary,
            kubernetes_conn_id=self.pipeline.connections.kubernetes,
            version=str(wanted) if wanted else None,
        )
        changed = "moved" if moved["changed"] else "unchanged"
        note_decision(context, f"Champion is v{moved['champion']} ({changed})")
        return moved
