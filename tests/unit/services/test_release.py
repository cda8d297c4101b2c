"""services/release.py: direct promotion, a paused canary answered by a person, rejection and
rollback with the local router's traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_mlops_provider.adapters.mlflow_registry import CHALLENGER, CHAMPION, PREVIOUS
from airflow_mlops_provider.core.release_rules import GateRecord
from airflow_mlops_provider.services import release
from airflow_mlops_provider.services.rollout import RolloutSources
from airflow_mlops_provider.spec import CanarySpec, DataSpec

DATA = DataSpec.model_validate(
    {"source": "lake", "target": "y", "features": {"numeric": ["x"]}, "split": {"time_column": "t"}}
)


def plan(canary: dict) -> release.ReleasePlan:
    return release.ReleasePlan(
        canary=CanarySpec.model_validate(canary),
        data=DATA,
        threshold=0.5,
        sources=RolloutSources(holdout_uri="holdout.parquet"),
    )


PAUSED = {
    "enabled": True,
    "metric_source": "inference_logs",
    "inference_logs": {"source": "logs"},
    "steps": [{"set_weight": 20}, {"pause": {}}],  # a pause without duration: a person
}


GATE = {"challenger": "2", "champion": "1"}  # what `evaluate` pushes (its other keys unused)


def of_run(rt, **tags: str) -> dict[str, str]:
    """Lineage tags naming this DAG run (what `retrain` sets), plus `tags`."""
    return {"mlops.dag_id": rt.task.dag_id, "mlops.run_id": rt.task.run_id, **tags}


def gated(rt, registry, version: str, champion: str | None, decision: str = "promote"):
    record = GateRecord(version, decision, champion, holdout="h", run_id=rt.task.run_id)
    registry.add_version(version, **of_run(rt, **record.tags()))


def two_versions(rt, registry) -> None:
    registry.add_version("1")
    gated(rt, registry, "2", "1")
    registry.set_alias(CHAMPION, "1")
    registry.set_alias(CHALLENGER, "2")


def test_direct_promotion_moves_the_champion_once(rt, registry, audit) -> None:
    two_versions(rt, registry)
    step = release.release(rt, plan({"enabled": False}), gate=GATE)
    assert step.kind == release.DONE
    assert step.result == {"champion": "2", "previous_champion": "1", "changed": "yes"}
    assert registry.aliases() == {CHAMPION: "2", PREVIOUS: "1"}  # challenger dropped
    assert registry.get_version("2").tags["mlops.decision"] == "promoted"
    again = release.release(rt, plan({"enabled": False}), gate=GATE)
    assert again.result["changed"] is None
    assert [line["event"] for line in audit(rt)] == ["promoted"]  # once


def test_a_retrain_cleared_after_the_gate_is_refused(rt, registry, audit) -> None:
    """Issue 13: retrain + canary_promote cleared after v2's promotion: v3 is trained, the
    gate's result still describes v2 against v1. Nothing is canaried or promoted."""
    two_versions(rt, registry)
    release.release(rt, plan({"enabled": False}), gate=GATE)
    registry.add_version("3", **of_run(rt))
    with pytest.raises(release.ReleaseRefused) as refused:
        release.release(rt, plan(PAUSED), gate=GATE)
    message = str(refused.value)
    assert "registered version 3 after the gate judged version 2" in message
    assert "clear `evaluate` with its downstream tasks" in message
    assert "Nothing moved" in message
    assert registry.aliases() == {CHAMPION: "2", PREVIOUS: "1"}
    assert not Path(rt.layout.canary, "router.json").exists()  # no canary started
    refusal = audit(rt)[-1]
    assert refusal["event"] == "release_refused" and refusal["details"]["version"] == "2"


def test_a_version_gated_against_another_champion_moves_nothing(rt, registry) -> None:
    two_versions(rt, registry)
    registry.add_version("5")
    registry.set_alias(CHAMPION, "5")  # another run promoted v5 meanwhile
    for canary in ({"enabled": False}, PAUSED):
        with pytest.raises(release.ReleaseRefused, match="the champion is now champion vers"):
            release.release(rt, plan(canary), gate=GATE)
    assert registry.aliases()[CHAMPION] == "5"


def test_a_lost_gate_result_releases_the_runs_gated_version(rt, registry) -> None:
    two_versions(rt, registry)
    step = release.release(rt, plan({"enabled": False}), gate=None)
    assert step.result["champion"] == "2"


def test_an_ungated_version_is_refused(rt, registry) -> None:
    registry.add_version("1")
    registry.add_version("2", **of_run(rt))
    registry.set_alias(CHAMPION, "1")
    with pytest.raises(release.ReleaseRefused, match="version 2 has no gate record"):
        release.release(rt, plan({"enabled": False}), gate=GATE)


def test_a_move_raced_by_another_promotion_is_refused(rt, registry) -> None:
    """The registry re-reads `champion` at the move itself."""
    two_versions(rt, registry)
    registry.set_alias(CHAMPION, "1")
    moved_meanwhile = registry.by_alias

    def racing(alias: str):
        found = moved_meanwhile(alias)
        if alias == CHAMPION:
            registry.alias_map[CHAMPION] = "4"  # after the check, before the move
        return found

    registry.add_version("4")
    registry.by_alias = racing  # type: ignore[method-assign]
    with pytest.raises(release.ReleaseRefused, match="the champion is now 4"):
        release.release(rt, plan({"enabled": False}), gate=GATE)
    assert registry.alias_map[CHAMPION] == "4"


def test_a_paused_canary_asks_a_person_and_goes_on_with_the_answer(
    rt, registry, sent, audit
) -> None:
    two_versions(rt, registry)
    canary = plan(PAUSED)
    step = release.release(rt, canary, gate=GATE)
    assert step.kind == release.PAUSE and step.subject == "Canary of churn v2 is paused"
    assert "20% on v2" in step.body and "paused at 20%" in sent[0]
    router = Path(rt.layout.canary, "router.json")
    assert json.loads(router.read_text())["weight"] == 20

    done = release.answer_pause(rt, canary, gate=GATE, choice="promote", actor="alice")
    assert done.kind == release.DONE and done.result["decision"] == "promoted"
    assert registry.aliases() == {CHAMPION: "2", PREVIOUS: "1"}
    assert json.loads(router.read_text())["stable"] == "2"
    answered = [line for line in audit(rt) if line["event"] == "canary_answered"]
    assert answered[0]["actor"] == "alice" and answered[0]["details"]["choice"] == "promote"


def test_a_rerun_after_the_canary_promoted_says_so_and_moves_nothing(
    rt, registry, audit, caplog
) -> None:
    """`canary_promote` cleared after its canary finished (in the system test: cleared with
    `retrain`, it runs while `retrain` trains): the decision is on the first screen."""
    two_versions(rt, registry)
    canary = plan(PAUSED)
    release.release(rt, canary, gate=GATE)
    release.answer_pause(rt, canary, gate=GATE, choice="promote", actor="alice")
    promotions = [line["event"] for line in audit(rt)].count("promoted")

    with caplog.at_level("INFO", logger="airflow_mlops_provider"):
        again = release.release(rt, canary, gate=GATE)

    assert again.kind == release.DONE and again.result["decision"] == "promoted"
    assert "Version 2 already is the champion (promoted by its canary)" in caplog.text
    assert registry.aliases() == {CHAMPION: "2", PREVIOUS: "1"}
    assert [line["event"] for line in audit(rt)].count("promoted") == promotions


def test_a_champion_moved_during_the_canary_stops_its_promotion(rt, registry) -> None:
    """A person answers `promote` after another release made v5 the champion: the gate's
    comparison with v1 no longer holds, nothing moves."""
    two_versions(rt, registry)
    canary = plan(PAUSED)
    release.release(rt, canary, gate=GATE)
    registry.add_version("5")
    registry.set_alias(CHAMPION, "5")
    with pytest.raises(release.ReleaseRefused, match="the champion is now champion version 5"):
        release.answer_pause(rt, canary, gate=GATE, choice="promote", actor="alice")
    assert registry.aliases()[CHAMPION] == "5"
    assert "mlops.audit.promoted" not in registry.get_version("2").tags


def test_a_canary_rolled_back_by_a_person_fails_the_release(rt, registry) -> None:
    two_versions(rt, registry)
    canary = plan(PAUSED)
    release.release(rt, canary, gate=GATE)
    with pytest.raises(release.RolloutFailed, match="stay on version 1"):
        release.answer_pause(rt, canary, gate=GATE, choice="rollback", actor="bob")
    assert registry.aliases() == {CHAMPION: "1"}  # challenger dropped
    assert registry.get_version("2").tags["mlops.decision"] == "rolled_back_canary"


def test_rejection_is_recorded_and_moves_nothing(rt, registry, audit) -> None:
    registry.add_version("3")
    registry.set_alias(CHALLENGER, "3")
    result = release.reject(rt, gate={"challenger": "3", "reasons": ["roc_auc fell"]})
    assert result == {"rejected": "3", "reasons": ["roc_auc fell"]}
    assert registry.get_version("3").tags["mlops.decision"] == "rejected"
    assert registry.aliases() == {} and audit(rt)[0]["event"] == "rejected"


def test_rollback_reverts_the_champion_and_the_traffic(rt, registry, audit) -> None:
    for version in ("1", "2"):
        registry.add_version(version)
    registry.set_alias(PREVIOUS, "1")
    registry.set_alias(CHAMPION, "2")
    canary = CanarySpec.model_validate(
        {"enabled": True, "steps": [{"set_weight": 20}]}
    )  # the local router
    moved = release.rollback(rt, canary=canary, kubernetes_conn_id="k", version=None)
    assert (moved["champion"], moved["from"], moved["changed"]) == ("1", "2", "yes")
    assert moved["traffic"]["stable"] == "1"
    assert registry.get_version("2").tags["mlops.decision"] == "rolled_back"
    again = release.rollback(rt, canary=canary, kubernetes_conn_id="k", version="1")
    assert again["changed"] is None and again["traffic"]["stable"] == "1"
    assert [line["event"] for line in audit(rt)] == ["rolled_back"]
