"""Drives one canary rollout: the pure state machine (core/canary.py) plus its side effects.

The state lives outside the worker — a JSON file per challenger in storage
(`<root>/pipelines/<name>/canary/rollout-v<version>.json`), mirrored as MLflow tags on the
challenger (`mlops.canary_phase`, `mlops.canary_step`, `mlops.canary_weight`) — next to the
router's own live state. Each action is carried out, then the new state is saved, then the
audit entry is written; actions are idempotent, so a worker killed at any point repeats at
most the last action when the task runs again, and never skips one.

`advance()` runs actions until the rollout must wait (a pause or an analysis interval: the
operator defers), needs a person (inconclusive analysis or `pause: {}`), or is finished.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_mlops_provider.core import canary
from airflow_mlops_provider.core.text import human_mapping

log = logging.getLogger(__name__)


@dataclass
class ReplayTraffic:
    """The local router's traffic: windows of logged requests routed and scored per arm."""

    storage: Any
    folder: str
    load_requests: Callable[[], Any]
    load_model: Callable[[str], Any]
    features: list[str]
    id_column: str | None
    label: str | None
    salt: str
    batch_size: int
    per_interval: int | None
    _requests: Any = None

    def run(self, steps: list[Any], state: canary.RolloutState) -> str:
        """Route and score this measurement's window once; a resumed rollout reuses it."""
        from airflow_mlops_provider.adapters.routers.local import replay, window

        index = len(state.measurements)
        target = self.storage.join(self.folder, f"step-{state.step:02d}", f"m-{index:02d}.parquet")
        if self.storage.exists(target):
            return target
        if self._requests is None:
            self._requests = self.load_requests()
        counts = [s.analysis.count for s in steps if s.analysis]
        before = sum(s.analysis.count for s in steps[: state.step] if s.analysis)
        requests = window(self._requests, before + index, sum(counts), self.per_interval)
        versions = {"canary": state.challenger, "champion": str(state.champion)}
        scored = replay(
            requests,
            models={arm: self.load_model(v) for arm, v in versions.items()},
            versions=versions,
            weight=state.weight,
            features=self.features,
            id_column=self.id_column,
            label=self.label,
            salt=self.salt,
            batch_size=self.batch_size,
        )
        return self.storage.write_frame(scored, target)


@dataclass
class Rollout:
    steps: list[Any]
    storage: Any
    folder: str
    router: Any
    source: Any
    registry: Any  # the adapters.mlflow_registry module (its functions take `mlflow`)
    mlflow: Any  # an MlflowClient
    model_name: str
    challenger: str
    champion: str
    audit: Callable[[str, dict[str, Any], str], None]
    notify: Callable[[str], Any]
    replay: ReplayTraffic | None = None
    clock: Callable[[], float] = time.time

    @property
    def state_path(self) -> str:
        return self.storage.join(self.folder, f"rollout-v{self.challenger}.json")

    def load(self) -> canary.RolloutState:
        if self.storage.exists(self.state_path):
            state = canary.RolloutState.from_dict(
                json.loads(self.storage.read_text(self.state_path))
            )
            log.info(
                "Resuming the canary of version %s at step %d (weight %d%%, %s); router: %s",
                state.challenger,
                state.step,
                state.weight,
                state.phase,
                human_mapping(self.router.current()),
            )
            return state
        return canary.start(self.challenger, self.champion)

    def save(self, state: canary.RolloutState) -> None:
        self.storage.write_text(self.state_path, json.dumps(state.to_dict(), indent=2))
        self.registry.tag_version(
            self.mlflow,
            self.model_name,
            self.challenger,
            {
                "mlops.canary_phase": state.phase,
                "mlops.canary_step": state.step,
                "mlops.canary_weight": state.weight,
            },
        )

    def advance(self) -> tuple[canary.Action, canary.RolloutState]:
        """Act until the rollout waits, needs a person, or is finished."""
        state = self.load()
        while True:
            now = self.clock()
            action = canary.next_action(self.steps, state, now)
            if action.kind in (canary.DONE, canary.PAUSE):
                return action, state
            measurement = self._perform(action, state)
            new = canary.after(self.steps, state, action, now, measurement)
            self.save(new)
            self._record(action, state, new, measurement)
            state = new
            if action.kind == canary.WAIT:
                return action, state

    def answer(self, choice: str, actor: str) -> None:
        """A person's answer to a pause (continue / promote / rollback), then carry on."""
        state = self.load()
        if canary.next_action(self.steps, state, self.clock()).kind != canary.PAUSE:
            log.warning("The canary is not paused (%s); answer %r ignored", state.phase, choice)
            return
        new = canary.answer(self.steps, state, choice, self.clock())
        self.save(new)
        self.audit(
            "canary_answered",
            {"version": self.challenger, "choice": choice, "step": state.step},
            actor,
        )

    # -- side effects ---------------------------------------------------------------------------
    def _perform(self, action: canary.Action, state: canary.RolloutState) -> Any:
        kind = action.kind
        if kind == canary.SET_WEIGHT:
            self.router.set_weight(self.challenger, self.champion, int(action.weight or 0))
        elif kind == canary.ANALYSE:
            return self._measure(state)
        elif kind == canary.PROMOTE:
            self.router.promote(self.challenger)
            moved = self.registry.promote(self.mlflow, self.model_name, self.challenger)
            self.registry.tag_version(
                self.mlflow, self.model_name, self.challenger, {"mlops.decision": "promoted"}
            )
            log.info(
                "Canary passed every step: version %s is champion (%s)",
                self.challenger,
                human_mapping(moved),
            )
        elif kind == canary.ROLLBACK:
            self.router.rollback(self.champion)
            self.registry.tag_version(
                self.mlflow,
                self.model_name,
                self.challenger,
                {
                    "mlops.decision": "rolled_back_canary",
                    "mlops.canary_reason": state.reason[:4000],
                },
            )
        return None

    def _measure(self, state: canary.RolloutState) -> canary.Measurement:
        analysis = self.steps[state.step].analysis
        if self.replay is not None:
            self.replay.run(self.steps, state)
        names = list(analysis.metrics)
        canary_arm, champion_arm, samples = self.source.measure(
            names, challenger=self.challenger, champion=self.champion, step=state.step
        )
        measurement = canary.judge(
            analysis.metrics, canary_arm, champion_arm, samples, analysis.min_samples
        )
        log.info(
            "Canary measurement %d/%d at weight %d%%: %s — %s",
            len(state.measurements) + 1,
            analysis.count,
            state.weight,
            measurement.status.upper(),
            "; ".join(measurement.reasons),
        )
        return measurement

    def _record(
        self,
        action: canary.Action,
        before: canary.RolloutState,
        after: canary.RolloutState,
        measurement: canary.Measurement | None,
    ) -> None:
        base = {"version": self.challenger, "champion": self.champion, "step": before.step}
        if action.kind == canary.SET_WEIGHT:
            log.info("Canary step %d: weight %d%%", before.step, action.weight)
            self.audit("canary_step", {**base, "set_weight": action.weight}, "airflow")
        elif action.kind == canary.NEXT:
            self.audit("canary_step", {**base, "pause": "done"}, "airflow")
        elif action.kind == canary.ANALYSE and measurement is not None:
            self.audit(
                "canary_step",
                {
                    **base,
                    "weight": before.weight,
                    "analysis": measurement.status,
                    "measurement": len(before.measurements) + 1,
                    "reasons": list(measurement.reasons),
                    "samples": measurement.samples,
                    "canary": measurement.canary,
                    "champion_arm": measurement.champion,
                },
                "airflow",
            )
        elif action.kind == canary.PROMOTE:
            self.audit(
                "promoted",
                {**base, "champion": self.challenger, "previous_champion": self.champion},
                "airflow",
            )
        elif action.kind == canary.ROLLBACK:
            text = (
                f":rotating_light: {self.model_name} v{self.challenger} canary rolled back; "
                f"traffic is on v{self.champion} again. {before.reason}"
            )
            self.notify(text)
            self.audit("canary_failed", {**base, "reason": before.reason}, "airflow")


def build(
    spec: Any,
    *,
    storage: Any,
    pipeline_root: str,
    mlflow_client: Any,
    challenger: str,
    champion: str,
    holdout_uri: str | None,
    replay_source: str | None,
    logs_source: str | None,
    prometheus_url: str | None,
    audit: Callable[[str, dict[str, Any], str], None],
    notify: Callable[[str], Any],
) -> Rollout:
    """The rollout the spec describes: its router, its metric source and, for the local
    router, the replayed traffic."""
    from airflow_mlops_provider.adapters import mlflow_registry as registry

    c = spec.canary
    folder = storage.join(pipeline_root, "canary")
    traffic = storage.join(folder, f"v{challenger}", "traffic")
    label = spec.data.target
    threshold = spec.evaluation.threshold
    router = router_for(spec, storage, pipeline_root, mlflow_client)
    source: Any
    if c.metric_source == "replay":
        from airflow_mlops_provider.adapters.metric_sources.replay import ReplaySource

        source = ReplaySource(storage, traffic, threshold=threshold)
    elif c.metric_source == "inference_logs":
        from airflow_mlops_provider.adapters.metric_sources.inference_logs import (
            InferenceLogsSource,
        )

        source = InferenceLogsSource(
            storage,
            c.inference_logs,
            source=logs_source or c.inference_logs.source,
            label=c.inference_logs.label_column or label,
            threshold=threshold,
        )
    else:
        from airflow_mlops_provider.adapters.metric_sources.prometheus import PrometheusSource

        source = PrometheusSource(prometheus_url or c.prometheus.url, c.prometheus)
    replay = None
    if c.router == "local":
        requests_at = replay_source or holdout_uri
        if requests_at is None:
            raise ValueError("the local router needs requests to replay: canary.replay.source")
        replay = ReplayTraffic(
            storage=storage,
            folder=traffic,
            load_requests=lambda: storage.read_frame(requests_at, c.replay.format),
            load_model=_pyfunc_loader(spec.model_name),
            features=spec.data.features.all,
            id_column=c.replay.request_id_column or spec.data.id_column,
            label=label,
            salt=spec.pipeline,
            batch_size=c.replay.batch_size,
            per_interval=c.replay.requests_per_interval,
        )
    return Rollout(
        steps=list(c.steps),
        storage=storage,
        folder=folder,
        router=router,
        source=source,
        registry=registry,
        mlflow=mlflow_client,
        model_name=spec.model_name,
        challenger=str(challenger),
        champion=str(champion),
        audit=audit,
        notify=notify,
        replay=replay,
    )


def _pyfunc_loader(model_name: str) -> Callable[[str], Any]:
    def load(version: str) -> Any:
        import mlflow

        return mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")

    return load


def model_storage_uri(mlflow_client: Any, name: str, version: str) -> str:
    """Where a serving system fetches the version's model from (an s3://... in production)."""
    found = mlflow_client.get_model_version(name, str(version))
    return getattr(found, "storage_location", None) or found.source


def router_for(spec: Any, storage: Any, pipeline_root: str, mlflow_client: Any) -> Any:
    """The configured router alone (the rollback DAG reverts traffic through it)."""
    if spec.canary.router == "kserve":
        from airflow_mlops_provider.adapters.routers.kserve import KServeRouter, custom_objects_api

        return KServeRouter(
            custom_objects_api(spec.connections.kubernetes),
            namespace=spec.canary.kserve.namespace,
            name=spec.canary.kserve.name,
            storage_uri=lambda v: model_storage_uri(mlflow_client, spec.model_name, v),
        )
    from airflow_mlops_provider.adapters.routers.local import LocalRouter

    return LocalRouter(storage, storage.join(pipeline_root, "canary"))
