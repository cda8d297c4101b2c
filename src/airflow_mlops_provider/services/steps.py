"""The heavy steps as plain-JSON requests, so one service call runs in the worker or in a pod.

`compute.<step>: kubernetes` (spec/compute.py) runs a step in a pod that knows nothing of
Airflow or of the pipeline YAML: the task writes a request (the pipeline's shared settings, the
task it runs for, the step's inputs with its YAML blocks) to the run's folder, the pod runs
`airflow-mlops run-step STEP --request URI`, which calls the same `run_step` the worker calls
for `local`, and writes the outcome next to the request. The task reads it back and goes on
exactly as after a local call: the same value, the links the service published (XCom), the
messages it sent (Slack stays with the worker: its token never reaches a pod), and the same
exception when the step's answer was one (a rejected batch, a configuration error).

A step's outcome is final once written: a retry of the task in the same clear cycle reuses it
instead of running the step again (no second audit line); a clear starts a new cycle, a new
request and a new pod.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider import __version__
from airflow_mlops_provider.exceptions import MlopsConfigError, PathNotAllowedError

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.mlflow_registry import Tracking
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.services.runtime import Runtime

log = logging.getLogger(__name__)
STEP_FOLDER = "pod"  # under the task's folder: pod/<clear cycle>/request.json, result.json


def run_step(step: str, rt: Runtime, inputs: dict[str, Any]) -> dict[str, Any]:
    """Run `step` on its JSON `inputs`; the service's result as JSON-ready values. Raises
    what the service raises."""
    try:
        run = STEPS[step]
    except KeyError:
        raise MlopsConfigError(f"unknown step {step!r}; steps: {', '.join(STEPS)}") from None
    return run(rt, inputs)


def _validation(rt: Runtime, inputs: dict[str, Any]) -> dict[str, Any]:
    from airflow_mlops_provider.services import validation
    from airflow_mlops_provider.spec import ContractSpec, DataSpec, MonitoringSpec

    contract = ContractSpec.model_validate(inputs["contract"])
    data = DataSpec.model_validate(inputs["data"])
    now = _when(inputs.get("now"))
    if inputs["purpose"] == "serving":
        return validation.validate_window(
            rt,
            window_uri=inputs["window_uri"],
            contract=contract,
            target=data.target,
            monitoring=MonitoringSpec.model_validate(inputs["monitoring"]),
            now=now,
        ).to_xcom()
    snapshot = validation.validate_batch(
        rt, source=inputs["source"], data=data, contract=contract, now=now
    )
    return snapshot.to_xcom()


def _drift(rt: Runtime, inputs: dict[str, Any]) -> dict[str, Any]:
    from airflow_mlops_provider.services.drift import DriftRoutes, check_drift
    from airflow_mlops_provider.spec import DriftSpec, Features

    interval = inputs.get("data_interval")
    decision = check_drift(
        rt,
        current_uri=inputs["current_uri"],
        drift=DriftSpec.model_validate(inputs["drift"]),
        features=Features.model_validate(inputs["features"]),
        routes=DriftRoutes(**inputs["routes"]),
        prediction_column=inputs.get("prediction_column"),
        forced_reason=inputs.get("forced_reason"),
        data_interval=(_when(interval[0]), _when(interval[1])) if interval else None,
    )
    return decision.to_xcom()


def _evaluation(rt: Runtime, inputs: dict[str, Any]) -> dict[str, Any]:
    from airflow_mlops_provider.services.evaluation import evaluate_challenger
    from airflow_mlops_provider.spec import ApprovalSpec, DataSpec, EvaluationSpec

    return evaluate_challenger(
        rt,
        challenger=inputs["challenger"],
        holdout_uri=inputs["holdout_uri"],
        data=DataSpec.model_validate(inputs["data"]),
        evaluation=EvaluationSpec.model_validate(inputs["evaluation"]),
        approval=ApprovalSpec.model_validate(inputs["approval"]),
    ).to_xcom()


def _scoring(rt: Runtime, inputs: dict[str, Any]) -> dict[str, Any]:
    """Monitoring's window, scored with the champion when the logs carry no predictions;
    `skipped` says why there is no window (the operator skips the task then)."""
    from airflow_mlops_provider.services.monitoring import collect_window
    from airflow_mlops_provider.spec import MonitoringSpec

    window = collect_window(
        rt,
        locations=inputs["locations"],
        monitoring=MonitoringSpec.model_validate(inputs["monitoring"]),
        features=inputs["features"],
        window=inputs["window"],
    )
    return {"window": window.to_xcom(), "skipped": window.skipped}


def _replay(rt: Runtime, inputs: dict[str, Any]) -> dict[str, Any]:
    """One canary measurement's window of replayed requests, routed (or shadowed) and scored
    by both models, written where the rollout reads it (services/replay.py)."""
    from airflow_mlops_provider.services.replay import ReplayWindow, score_window

    window = ReplayWindow.from_json(inputs)
    registry = rt.registry
    target = score_window(
        window,
        storage=rt.storage,
        requests=rt.storage.read_frame(window.requests, window.format),
        load_model=lambda v: registry.load_model(f"models:/{registry.model_name}/{v}"),
    )
    return {"target": target}


STEPS: dict[str, Callable[[Runtime, dict[str, Any]], dict[str, Any]]] = {
    "validation": _validation,
    "drift": _drift,
    "evaluation": _evaluation,
    "scoring": _scoring,
    "replay": _replay,
}


def when_text(value: datetime | None) -> str | None:
    """A datetime for a request (ISO 8601 with its offset), None as it is."""
    return value.isoformat() if value is not None else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- the outcome a pod writes ------------------------------------------------------------------

# The step's own answers, re-raised in the task as the worker would have raised them; any other
# exception is a crash: the pod fails and the task with it (a retry runs the step again).
ANSWERS: dict[str, Callable[[dict[str, Any]], Exception]] = {
    "DataRejected": lambda e: _data_rejected(e["message"], e.get("decision") or e["message"]),
    "PathNotAllowedError": lambda e: PathNotAllowedError(e["message"]),
    "MlopsConfigError": lambda e: MlopsConfigError(e["message"]),
}


def _data_rejected(message: str, decision: str) -> Exception:
    from airflow_mlops_provider.services.validation import DataRejected

    return DataRejected(message, decision=decision)


@dataclass
class StepOutcome:
    """What a step in a pod left for its task: its value or its answer (`error`), the links
    it published and the messages it would have sent, in order."""

    value: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    published: list[tuple[str, Any]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def crashed(self) -> bool:
        """The step raised something that is not one of its answers: nothing to reuse."""
        return self.value is None and (self.error is None or self.error["kind"] not in ANSWERS)

    def to_json(self) -> str:
        return json.dumps(
            {
                "value": self.value,
                "error": self.error,
                "published": self.published,
                "notices": self.notices,
            },
            default=_plain,
        )

    @classmethod
    def from_json(cls, text: str) -> StepOutcome:
        raw = json.loads(text)
        published = [(key, value) for key, value in raw.get("published", [])]
        return cls(raw.get("value"), raw.get("error"), published, raw.get("notices", []))

    def value_or_raise(self) -> dict[str, Any]:
        """The step's value, or the exception the worker would have raised."""
        if self.value is not None:
            return self.value
        error = self.error or {"kind": "?", "message": "the step left no result"}
        if error["kind"] in ANSWERS:
            raise ANSWERS[error["kind"]](error)
        raise MlopsConfigError(f"the step failed in its pod: {error['message']}")


def record(step: str, rt: Runtime, inputs: dict[str, Any]) -> StepOutcome:
    """Run the step as a pod does: what it publishes and the messages it sends are kept for
    the task (which has XCom and the notifier), and its answers and crashes are kept instead
    of raised (`crashed` tells them apart)."""
    outcome = StepOutcome()

    def notice(text: str) -> str:
        outcome.notices.append(text)
        return "sent by the task"

    rt.publish = lambda key, value: outcome.published.append((key, value))
    rt.notify = notice
    try:
        outcome.value = run_step(step, rt, inputs)
    except Exception as exc:
        kind = type(exc).__name__
        outcome.error = {"kind": kind, "message": str(exc) or kind}
        if hasattr(exc, "decision"):
            outcome.error["decision"] = exc.decision
        if kind not in ANSWERS:
            log.error("%s failed: %s: %s", step, kind, exc, exc_info=log.isEnabledFor(10))
    return outcome


def request(
    step: str, *, config: dict[str, Any], task: dict[str, str], inputs: dict[str, Any], result: str
) -> str:
    """The request document a step pod reads: the step, the provider release that wrote it, the
    pipeline's shared settings (`PipelineConfig`, no secrets), the task it runs for, its inputs
    and where the outcome goes."""
    document = {
        "step": step,
        "provider_version": __version__,
        "config": config,
        "task": task,
        "inputs": inputs,
        "result": result,
    }
    return json.dumps(document, indent=2)


def run_request(step: str, request_uri: str, *, storage: Storage, tracking: Tracking | None) -> int:
    """What `airflow-mlops run-step` does in a pod: read the request, run the step, write its
    outcome. Exit 0 when the step gave its value or its answer, 1 when it crashed (the pod
    fails; the task says why in one line and a retry runs it again). A request from another
    release of the provider is answered with a configuration error, not run."""
    from airflow_mlops_provider.adapters.mlflow_registry import Registry
    from airflow_mlops_provider.services.config import PipelineConfig
    from airflow_mlops_provider.services.layout import TaskRef
    from airflow_mlops_provider.services.runtime import Runtime

    document = json.loads(storage.read_text(request_uri))
    if document["step"] != step:
        raise MlopsConfigError(f"{request_uri} is a {document['step']} request, not {step}")
    skew = version_skew(step, document.get("provider_version"))
    if skew is not None:
        log.error("%s", skew)
        refused = StepOutcome(error={"kind": "MlopsConfigError", "message": skew})
        storage.write_text(document["result"], refused.to_json())
        return 0
    config = PipelineConfig.model_validate(document["config"])
    rt = Runtime(
        pipeline=config.pipeline,
        storage_root=config.storage.root,
        storage=storage,
        registry=Registry(config.model_name, tracking or _no_tracking),
        task=TaskRef(**document["task"]),
    )
    outcome = record(step, rt, document["inputs"])
    storage.write_text(document["result"], outcome.to_json())
    return 1 if outcome.crashed else 0


def version_skew(step: str, written_by: str | None) -> str | None:
    """Why this pod must not run a request written by provider release `written_by`, or None.
    Requests and outcomes may change between minor releases, so the step pod's provider must
    have the worker's major.minor; patch releases keep both documents."""
    if written_by is not None and _minor(written_by) == _minor(__version__):
        return None
    worker = written_by or "an older release (its request names none)"
    wanted = f"=={written_by}" if written_by else " of the worker's release"
    return (
        f"this {step} pod runs airflow-mlops-provider {__version__}, the worker that wrote its "
        f"request runs {worker}, and a step pod needs the worker's major.minor: rebuild the "
        f"step image (compute.{step}.image, or training.image when unset) with "
        f"airflow-mlops-provider{wanted} (include/trainer/Dockerfile of that release), "
        "then clear the task"
    )


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def _no_tracking() -> Tracking:
    raise MlopsConfigError(
        "this step pod has no MLFLOW_TRACKING_URI; only the steps that read the registry get "
        "one (drift, evaluation, scoring, replay)"
    )


def _plain(value: Any) -> Any:
    """numpy scalars (a drift statistic, a metric) as Python numbers; anything else as text."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)
