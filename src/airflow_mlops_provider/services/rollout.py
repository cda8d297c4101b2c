"""Drives one canary rollout: the pure state machine (core/canary.py) plus its side effects.

The state lives outside the worker — a JSON file per challenger in storage
(`<root>/pipelines/<name>/canary/rollout-v<version>.json`), mirrored as MLflow tags on the
challenger (`mlops.canary_phase`, `mlops.canary_step`, `mlops.canary_weight`) — next to the
router's own live state. Each action is carried out, then the new state is saved, then the
audit entry is written (for the promotion, the audit line before the state, so a kill cannot
lose it; the registry's tag keeps it from being written twice); actions are idempotent, so a
worker killed at any point repeats at most the last action when the task runs again, and
never skips one. The promotion moves `champion` only from the champion the rollout compares
with (the gate's), then the traffic.

Each measurement is judged by the sequential judge (core/canary_judge.py) on all the traffic
of its analysis step so far; the measurement with its evidence (estimates, confidence
sequence, requests per arm) goes into the saved state, so a resumed rollout continues the
same analysis, and into the log and the audit line in words.

A shadow step measures the same way without touching the router: the challenger scores the
requests the champion serves (local router: both models on every replayed request of the
window; inference logs: the serving system's shadow predictions) and the judge tests the
paired difference. Its log lines and audit lines begin with "SHADOW:"; a stop there is
audited and notified like a rollback, with nothing to roll back (the champion kept all
traffic, the router is set to it as on any rollback).

`advance()` runs actions until the rollout must wait (a pause or an analysis interval: the
operator defers), needs a person (inconclusive analysis or `pause: {}`), or is finished.
`build()` assembles a rollout from the YAML's `canary` block: its router (adapters/routers),
its metric source (adapters/metric_sources) and, for the local router, the replayed traffic
(services/replay.py: scored here, or — `replay_in_pod` — in a pod the release asks for).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core import canary
from airflow_mlops_provider.core.text import human_mapping

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.mlflow_registry import Registry
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.services.replay import ReplayTraffic
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import CanarySpec, DataSpec

log = logging.getLogger(__name__)


@dataclass
class Rollout:
    steps: list[Any]
    storage: Any
    folder: str
    router: Any
    source: Any
    registry: Registry
    challenger: str
    champion: str
    audit: Callable[[str, dict[str, Any], str], None]
    notify: Callable[[str], Any]
    replay: ReplayTraffic | None = None
    clock: Callable[[], float] = time.time

    @property
    def state_path(self) -> str:
        return self.storage.join(self.folder, f"rollout-v{self.challenger}.json")

    def recorded(self) -> canary.RolloutState | None:
        """The saved state of this challenger's rollout against this champion, if any."""
        if not self.storage.exists(self.state_path):
            return None
        state = canary.RolloutState.from_dict(json.loads(self.storage.read_text(self.state_path)))
        if state.champion != self.champion and state.phase not in canary.FINISHED:
            log.info(
                "The saved canary of version %s was against version %s, not %s: starting anew",
                state.challenger,
                state.champion,
                self.champion,
            )
            return None
        return state

    def load(self) -> canary.RolloutState:
        state = self.recorded()
        if state is None:
            return canary.start(self.challenger, self.champion)
        log.info(
            "Resuming the canary of version %s at step %d (weight %d%%, %s); router: %s",
            state.challenger,
            state.step,
            state.weight,
            state.phase,
            human_mapping(self.router.current()),
        )
        return state

    def save(self, state: canary.RolloutState) -> None:
        self.storage.write_text(self.state_path, json.dumps(state.to_dict(), indent=2))
        self.registry.tag_version(
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
            outcome = self._perform(action, state)
            measurement = outcome if action.kind == canary.ANALYSE else None
            new = canary.after(self.steps, state, action, now, measurement)
            if action.kind == canary.PROMOTE:  # the release's audit line: never lost to a kill
                self._record(action, state, new, outcome)
                self.save(new)
            else:
                self.save(new)
                self._record(action, state, new, outcome)
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

    def _record_promotion(self, base: dict[str, Any], moved: dict[str, Any]) -> None:
        """The `promoted` line names the champion the move really replaced (read from the
        registry at the move); a repeated promotion after a kill is not audited twice."""
        from airflow_mlops_provider.core.audit import TAG_PREFIX

        tags = self.registry.get_version(self.challenger).tags
        if not moved["changed"] and f"{TAG_PREFIX}promoted" in tags:
            return
        self.audit(
            "promoted",
            {**base, "champion": self.challenger, "previous_champion": moved["previous_champion"]},
            "airflow",
        )

    # -- side effects ---------------------------------------------------------------------------
    def _perform(self, action: canary.Action, state: canary.RolloutState) -> Any:
        kind = action.kind
        if kind == canary.SET_WEIGHT:
            self.router.set_weight(self.challenger, self.champion, int(action.weight or 0))
        elif kind == canary.ANALYSE:
            return self._measure(state)
        elif kind == canary.PROMOTE:
            # the registry first: it refuses when `champion` moved since the gate, and then
            # the traffic must not move either
            moved = self.registry.promote(self.challenger, replacing=self.champion)
            self.router.promote(self.challenger)
            self.registry.tag_version(self.challenger, {"mlops.decision": "promoted"})
            log.info(
                "Canary passed every step: promoted version %s to champion (%s)",
                self.challenger,
                human_mapping(moved),
            )
            return moved
        elif kind == canary.ROLLBACK:
            self.router.rollback(self.champion)  # in shadow: the champion already has it all
            self.registry.drop_challenger(self.challenger)
            shadow = canary.at_shadow_step(self.steps, state)
            self.registry.tag_version(
                self.challenger,
                {
                    "mlops.decision": "stopped_in_shadow" if shadow else "rolled_back_canary",
                    "mlops.canary_reason": state.reason[:4000],
                },
            )
        return None

    def _measure(self, state: canary.RolloutState) -> canary.Measurement:
        from airflow_mlops_provider.core import canary_judge  # numpy: at run time only

        step = self.steps[state.step]
        analysis = step.judged
        if self.replay is not None:
            self.replay.run(self.steps, state)
        if step.shadow is not None:
            return self._measure_shadow(state, analysis)
        began = state.history[-1]["at"] if state.history else self.clock()
        canary_arm, champion_arm = self.source.measure(
            list(analysis.metrics),
            challenger=self.challenger,
            champion=self.champion,
            step=state.step,
            window_seconds=self.clock() - began,
        )
        measurement = canary_judge.judge(
            analysis.metrics, canary_arm, champion_arm, alpha=analysis.alpha
        )
        log.info(
            "Canary measurement %d of at most %d at weight %d%% (%s canary / %s champion "
            "requests): %s — %s",
            len(state.measurements) + 1,
            analysis.count,
            state.weight,
            f"{measurement.samples['canary']:,}",
            f"{measurement.samples['champion']:,}",
            measurement.decision.upper(),
            "; ".join(measurement.reasons),
        )
        return measurement

    def _measure_shadow(self, state: canary.RolloutState, analysis: Any) -> canary.Measurement:
        """Both models on the same requests: the paired judge (covariance per metric)."""
        from airflow_mlops_provider.core import canary_judge

        mine, theirs, covariance = self.source.shadow(
            list(analysis.metrics),
            challenger=self.challenger,
            champion=self.champion,
            step=state.step,
        )
        measurement = canary_judge.judge(
            analysis.metrics, mine, theirs, alpha=analysis.alpha, covariance=covariance
        )
        log.info(
            "SHADOW: measurement %d of at most %d, %s requests scored by both models, none "
            "served by the challenger: %s — %s",
            len(state.measurements) + 1,
            analysis.count,
            f"{measurement.samples['canary']:,}",
            measurement.decision.upper(),
            "; ".join(measurement.reasons),
        )
        return measurement

    def _record(
        self,
        action: canary.Action,
        before: canary.RolloutState,
        after: canary.RolloutState,
        outcome: Any,
    ) -> None:
        base = {"version": self.challenger, "champion": self.champion, "step": before.step}
        if action.kind == canary.SET_WEIGHT:
            log.info("Canary step %d: weight %d%%", before.step, action.weight)
            self.audit("canary_step", {**base, "set_weight": action.weight}, "airflow")
        elif action.kind == canary.NEXT:
            self.audit("canary_step", {**base, "pause": "done"}, "airflow")
        elif action.kind == canary.ANALYSE and outcome is not None:
            measurement = outcome
            shadow = canary.at_shadow_step(self.steps, before)
            self.audit(
                "canary_step",
                {
                    **base,
                    **({"shadow": True} if shadow else {}),
                    "weight": before.weight,
                    "analysis": measurement.status,
                    "decision": measurement.decision,
                    "measurement": len(before.measurements) + 1,
                    "reasons": list(measurement.reasons),
                    "samples": measurement.samples,
                    "canary": measurement.canary,
                    "champion_arm": measurement.champion,
                    "evidence": [_evidence(c) for c in measurement.checks],
                },
                "airflow",
            )
        elif action.kind == canary.PROMOTE:
            self._record_promotion(base, outcome)
        elif action.kind == canary.ROLLBACK:
            shadow = canary.at_shadow_step(self.steps, before)
            text = (
                f":rotating_light: {self.registry.model_name} v{self.challenger} canary rolled "
                f"back; traffic is on v{self.champion} again. {before.reason}"
            )
            if shadow:
                text = (
                    f":rotating_light: SHADOW: {self.registry.model_name} v{self.challenger} "
                    f"stopped before serving any request; v{self.champion} kept all traffic — "
                    + before.reason.removeprefix("SHADOW: ")
                )
                log.info("%s", text.removeprefix(":rotating_light: "))
            self.notify(text)
            details = {**base, "reason": before.reason, **({"shadow": True} if shadow else {})}
            self.audit("canary_failed", details, "airflow")


def _evidence(check: dict[str, Any]) -> dict[str, Any]:
    """One bound's evidence for the audit line: what was measured, its confidence sequence,
    on how many canary requests, and the verdict."""
    keys = ("metric", "bound", "limit", "measured", "lower", "upper", "requests", "verdict")
    return {k: check[k] for k in keys if k in check}


@dataclass(frozen=True)
class RolloutSources:
    """Where the rollout reads requests and metrics: the snapshot's holdout (replayed when
    `canary.replay.source` is not set), the rendered `canary.replay.source` and
    `canary.inference_logs.source`, and the Prometheus URL from `url_connection`."""

    holdout_uri: str | None = None
    replay_source: str | None = None
    logs_source: str | None = None
    prometheus_url: str | None = None


def build(
    rt: Runtime,
    *,
    canary_spec: CanarySpec,
    data: DataSpec,
    threshold: float,
    challenger: str,
    champion: str,
    sources: RolloutSources,
    kubernetes_conn_id: str,
    replay_in_pod: bool = False,
) -> Rollout:
    """The rollout `canary_spec` describes, for this challenger against this champion;
    `replay_in_pod`: the local router's windows are scored in a pod (`compute.replay`)."""
    c, storage = canary_spec, rt.storage
    folder = rt.layout.canary
    traffic = storage.join(folder, f"v{challenger}", "traffic")
    label = data.target
    router = router_for(c, storage, folder, rt.registry, kubernetes_conn_id)
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
            source=sources.logs_source or c.inference_logs.source,
            label=c.inference_logs.label_column or label,
            threshold=threshold,
        )
    else:
        from airflow_mlops_provider.adapters.metric_sources.prometheus import PrometheusSource

        source = PrometheusSource(sources.prometheus_url or c.prometheus.url, c.prometheus)
    replay = None
    if c.router == "local":
        from airflow_mlops_provider.services.replay import ReplayTraffic

        requests_at = sources.replay_source or sources.holdout_uri
        if requests_at is None:
            raise ValueError("the local router needs requests to replay: canary.replay.source")
        registry = rt.registry
        replay = ReplayTraffic(
            storage=storage,
            folder=traffic,
            requests=requests_at,
            format=c.replay.format,
            load_model=lambda v: registry.load_model(f"models:/{registry.model_name}/{v}"),
            features=data.features.all,
            id_column=c.replay.request_id_column or data.id_column,
            label=label,
            salt=rt.pipeline,
            batch_size=c.replay.batch_size,
            per_interval=c.replay.requests_per_interval,
            in_pod=replay_in_pod,
        )
    return Rollout(
        steps=list(c.steps),
        storage=storage,
        folder=folder,
        router=router,
        source=source,
        registry=rt.registry,
        challenger=str(challenger),
        champion=str(champion),
        audit=rt.audit,
        notify=rt.notify,
        replay=replay,
    )


def router_for(
    canary_spec: CanarySpec,
    storage: Storage,
    folder: str,
    registry: Registry,
    kubernetes_conn_id: str,
) -> Any:
    """The configured router alone (rollback reverts traffic through it)."""
    if canary_spec.router == "kserve":
        from airflow_mlops_provider.adapters.routers.kserve import KServeRouter, custom_objects_api

        return KServeRouter(
            custom_objects_api(kubernetes_conn_id),
            namespace=canary_spec.kserve.namespace,
            name=canary_spec.kserve.name,
            storage_uri=registry.storage_uri,
        )
    from airflow_mlops_provider.adapters.routers.local import LocalRouter

    return LocalRouter(storage, folder)
