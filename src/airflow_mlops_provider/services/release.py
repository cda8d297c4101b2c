"""Release steps: promote (directly or through the canary), reject, roll back.

Only the version the gate (or a person) approved against the current champion is released
(`check_gated`, the rules in core/release_rules.py, checked again at every re-entry);
`champion` moves only when the release succeeds, and only from the champion the gate judged
against. The canary rollout itself is services/rollout.py; here is what a release
step does with its outcome: wait until a time (the operator defers), ask a person (the
operator raises Airflow's HITL), have a window of replayed traffic scored in a pod
(`compute.replay: kubernetes`: the operator runs the `replay` step and calls the release again),
or finish — promoted, or rolled back (`RolloutFailed`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.release_rules import RELEASED
from airflow_mlops_provider.core.text import human_value
from airflow_mlops_provider.exceptions import MlopsError
from airflow_mlops_provider.services.rollout import RolloutSources

if TYPE_CHECKING:
    from airflow_mlops_provider.core.release_rules import ReleaseCheck
    from airflow_mlops_provider.services.rollout import Rollout
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import CanarySpec, DataSpec

log = logging.getLogger(__name__)
DONE, WAIT, PAUSE, REPLAY = "done", "wait", "pause", "replay"
PAUSE_OPTIONS = ["continue", "promote", "rollback"]


class ReleaseRefused(MlopsError):
    """The version is not the one the gate (or a person) approved against the current
    champion: nothing moved. Retrying cannot help; the message says what to clear."""

    @property
    def decision(self) -> str:
        """It in one line (the run's note), like `RolloutFailed.decision`."""
        return str(self).splitlines()[0]


class RolloutFailed(MlopsError):
    """The canary's analysis failed: traffic is back on the champion, `champion` unchanged.
    Retrying cannot help; a new challenger must be trained. `decision`: it in one line."""

    def __init__(self, message: str, *, decision: str) -> None:
        super().__init__(message)
        self.decision = decision


@dataclass(frozen=True)
class ReleasePlan:
    """How a challenger is released: the YAML's `canary` block, the data's target, features
    and id column (replayed requests), the gate's classification threshold, the Kubernetes
    connection (KServe router), where requests and metrics come from, and whether the local
    router's windows are scored in a pod (`compute.replay: kubernetes`)."""

    canary: CanarySpec
    data: DataSpec
    threshold: float
    kubernetes_conn_id: str = "kubernetes_default"
    sources: RolloutSources = field(default_factory=RolloutSources)
    replay_in_pod: bool = False


@dataclass(frozen=True)
class ReleaseStep:
    """What the release needs next: nothing (`done`, with the result), to `wait` until a
    Unix time, a person's answer to a `pause` (one of PAUSE_OPTIONS), or a `replay` pod
    scoring the window in `result` (the `replay` step's inputs) before it can measure."""

    kind: str
    result: dict[str, Any] = field(default_factory=dict)
    until: float | None = None
    subject: str = ""
    body: str = ""


def release(rt: Runtime, plan: ReleasePlan, *, gate: Mapping[str, Any] | None) -> ReleaseStep:
    """Release the version the gate judged (`gate`: its result, or None when lost): check its
    gate record against the registry as it is now, then promote it directly (canary disabled,
    or no champion to compare with) or carry its canary rollout on from wherever it stands."""
    check = check_gated(rt, gate)
    if check.kind == RELEASED:
        return _released(rt, plan, check)
    if plan.canary.enabled and check.champion is not None:
        return _advance(rt, _rollout(rt, plan, check.version, check.champion))
    why = "Canary is not enabled" if not plan.canary.enabled else "No champion yet"
    log.info("%s: promoting version %s directly", why, check.version)
    return ReleaseStep(DONE, _promote(rt, check.version, check.champion))


def answer_pause(
    rt: Runtime,
    plan: ReleasePlan,
    *,
    gate: Mapping[str, Any] | None,
    choice: str,
    actor: str,
) -> ReleaseStep:
    """A person's answer to a paused canary (continue / promote / rollback), then carry on."""
    log.info("Canary pause answered by %s: %s", actor, choice)
    check = check_gated(rt, gate)
    if check.kind == RELEASED:
        return _released(rt, plan, check)
    rollout = _rollout(rt, plan, check.version, str(check.champion))
    rollout.answer(choice, actor)
    return _advance(rt, rollout)


def check_gated(rt: Runtime, gate: Mapping[str, Any] | None) -> ReleaseCheck:
    """The release invariants (core/release_rules.py) on the registry as it is now: the
    version the gate judged (the newest this DAG run registered, when the gate's result is
    lost), its gate record on the version, the current champion. A refusal is audited and
    raised as ReleaseRefused: nothing is moved."""
    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION
    from airflow_mlops_provider.core.release_rules import (
        REFUSED,
        GateRecord,
        check_release,
    )

    registry = rt.registry
    ran = registry.versions_of_run(rt.task.dag_id, rt.task.run_id)
    newest = ran[-1].version if ran else None
    version = str(gate["challenger"]) if gate and gate.get("challenger") else newest
    if version is None:
        raise ReleaseRefused(
            f"Nothing to release: run {rt.task.run_id} has no gate result and registered no "
            "version; run `retrain` and `evaluate` first."
        )
    record = GateRecord.from_tags(version, registry.get_version(version).tags)
    champion = registry.by_alias(CHAMPION)
    check = check_release(
        record, champion_now=champion.version if champion else None, newest_of_run=newest
    )
    if check.kind == REFUSED:
        rt.audit("release_refused", {"version": version, "reason": check.reason})
        raise ReleaseRefused(
            f"Not releasing {registry.model_name} version {version}: {check.reason}. "
            "Nothing moved (aliases and traffic unchanged)."
        )
    log.info(
        "Release of version %s: gate record %s against %s; champion now %s",
        version,
        record.decision,
        record.champion or "no champion",
        champion.version if champion else "none",
    )
    return check


def reject(rt: Runtime, *, gate: dict[str, Any]) -> dict[str, Any]:
    """Record the gate's rejection on the version and in the audit log; `challenger` is
    dropped, `champion` stays. A re-run gate that rejects the champion itself moves nothing
    and leaves its tags: a champion is replaced only by a release or the rollback DAG."""
    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION

    version, reasons = str(gate["challenger"]), gate["reasons"]
    champion = rt.registry.by_alias(CHAMPION)
    if champion is not None and champion.version == version:
        log.info(
            "Version %s is the champion; the gate's rejection (%s) is audited, nothing moved. "
            "Use the rollback DAG to replace it.",
            version,
            "; ".join(reasons),
        )
    else:
        rt.registry.tag_version(version, {"mlops.decision": "rejected"})
        rt.registry.drop_challenger(version)
        log.info("Version %s rejected: %s", version, "; ".join(reasons))
    rt.audit("rejected", {"version": version, "reasons": reasons})
    return {"rejected": version, "reasons": reasons}


def rollback(
    rt: Runtime, *, canary: CanarySpec, kubernetes_conn_id: str, version: str | None
) -> dict[str, Any]:
    """Move `champion` back to `version` (default: `previous_champion`) and revert the traffic
    through the configured router; running it twice changes nothing the second time."""
    moved = rt.registry.rollback(version)
    traffic = _revert_traffic(rt, canary, kubernetes_conn_id, moved["champion"])
    if moved["changed"]:
        rt.registry.tag_version(moved["from"], {"mlops.decision": "rolled_back"})
        rt.audit("rolled_back", {**moved, "traffic": traffic})
    log.info(
        "Champion is version %s (%s); router: %s",
        moved["champion"],
        "moved" if moved["changed"] else "already there; nothing moved",
        human_value(traffic),
    )
    return {**moved, "traffic": traffic}


def _promote(rt: Runtime, version: str, champion: str | None) -> dict[str, Any]:
    """Move `champion` (only from the champion the gate judged against) and audit the move
    with the champion it really replaced."""
    from airflow_mlops_provider.exceptions import RegistryError

    try:
        moved = rt.registry.promote(version, replacing=champion)
    except RegistryError as exc:
        raise ReleaseRefused(str(exc)) from None
    rt.registry.tag_version(version, {"mlops.decision": "promoted"})
    if moved["changed"]:
        rt.audit("promoted", moved)
    else:
        log.info("Version %s already is the champion; nothing moved", version)
    return moved


def _released(rt: Runtime, plan: ReleasePlan, check: ReleaseCheck) -> ReleaseStep:
    """The version already is the champion: finish a canary a kill interrupted right after
    its promotion (its audit line and state), else there is nothing to do."""
    from airflow_mlops_provider.core import canary

    if plan.canary.enabled and check.champion is not None:
        rollout = _rollout(rt, plan, check.version, check.champion)
        state = rollout.recorded()
        if state is not None and state.phase == canary.PROMOTED:  # a re-run after the end
            log.info(
                "Version %s already is the champion (promoted by its canary); nothing to release",
                check.version,
            )
        if state is not None and state.phase != canary.ROLLED_BACK:
            return _advance(rt, rollout)
    log.info("Version %s already is the champion; nothing to release", check.version)
    return ReleaseStep(DONE, _promote(rt, check.version, check.champion))


def _rollout(rt: Runtime, plan: ReleasePlan, challenger: str, champion: str) -> Rollout:
    from airflow_mlops_provider.services.rollout import build

    return build(
        rt,
        canary_spec=plan.canary,
        data=plan.data,
        threshold=plan.threshold,
        challenger=challenger,
        champion=champion,
        sources=plan.sources,
        kubernetes_conn_id=plan.kubernetes_conn_id,
        replay_in_pod=plan.replay_in_pod,
    )


def _advance(rt: Runtime, rollout: Rollout) -> ReleaseStep:
    from airflow_mlops_provider.core import canary
    from airflow_mlops_provider.exceptions import RegistryError
    from airflow_mlops_provider.services.replay import ReplayInPod

    try:
        action, state = rollout.advance()
    except RegistryError as exc:  # `champion` moved by someone else during the canary
        raise ReleaseRefused(str(exc)) from None
    except ReplayInPod as wanted:  # nothing measured yet: the state is as saved
        log.info("Canary window %s is scored in a replay pod", wanted.window.part)
        return ReleaseStep(REPLAY, wanted.window.to_json())
    if action.kind == canary.WAIT:
        return ReleaseStep(WAIT, until=float(action.until or 0))
    if action.kind == canary.PAUSE:
        return _pause(rt, action.reason, state, canary.at_shadow_step(rollout.steps, state))
    if state.phase == canary.ROLLED_BACK and canary.at_shadow_step(rollout.steps, state):
        why = state.reason.removeprefix("SHADOW: ")
        raise RolloutFailed(
            f"SHADOW: version {state.challenger} stopped before serving any request — {why}. "
            f"Version {state.champion} kept all traffic and `champion`. Clearing this task "
            "changes nothing; train again to try a new challenger.",
            decision=f"SHADOW: v{state.challenger} stopped, never served — {why}",
        )
    if state.phase == canary.ROLLED_BACK:
        raise RolloutFailed(
            f"Canary of version {state.challenger} rolled back: {state.reason}. Traffic and "
            f"`champion` stay on version {state.champion}. Clearing this task changes "
            "nothing; train again to try a new challenger.",
            decision=f"Canary of v{state.challenger} rolled back: {state.reason}",
        )
    return ReleaseStep(
        DONE,
        {
            "version": state.challenger,
            "champion": state.challenger if state.phase == canary.PROMOTED else state.champion,
            "decision": state.phase,
            "reason": state.reason,
            "steps": len(state.history),
        },
    )


def _pause(rt: Runtime, reason: str, state: Any, shadow: bool = False) -> ReleaseStep:
    model = rt.registry.model_name
    if shadow:  # the challenger has served nothing yet
        log.info("Shadow step paused for a person: %s", reason)
        rt.notify(
            f":pause_button: {model} v{state.challenger} shadow step paused — {reason}. Answer "
            "in Airflow (Required actions): continue, promote or rollback."
        )
        return ReleaseStep(
            PAUSE,
            subject=f"Shadow step of {model} v{state.challenger} is paused",
            body=f"{reason}\n\nTraffic: all on v{state.champion}; v{state.challenger} has "
            "served no request. continue: on to the canary steps; promote: make it the "
            "champion now; rollback: stop it (nothing to revert).",
        )
    log.info("Canary paused for a person: %s", reason)
    rt.notify(
        f":pause_button: {model} v{state.challenger} canary paused at {state.weight}% — "
        f"{reason}. Answer in Airflow (Required actions): continue, promote or rollback."
    )
    return ReleaseStep(
        PAUSE,
        subject=f"Canary of {model} v{state.challenger} is paused",
        body=f"{reason}\n\nTraffic: {state.weight}% on v{state.challenger}, the rest on "
        f"v{state.champion}. continue: next step; promote: make it the champion now; "
        "rollback: revert traffic and keep the champion.",
    )


def _revert_traffic(
    rt: Runtime, canary: CanarySpec, kubernetes_conn_id: str, champion: str
) -> dict[str, Any] | None:
    """All traffic on the champion (only when a canary router is configured)."""
    if not canary.enabled:
        return None
    from airflow_mlops_provider.services.rollout import router_for

    router = router_for(canary, rt.storage, rt.layout.canary, rt.registry, kubernetes_conn_id)
    now = router.current()
    if now.get("stable") == str(champion) and not now.get("canary"):
        return now
    return router.rollback(str(champion))
