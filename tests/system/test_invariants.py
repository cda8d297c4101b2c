"""The system test's release invariants on hand-made registries and audit logs: each check
passes on a correct history and names the problem on the histories issue 13 describes."""

from __future__ import annotations

from typing import Any

from .invariants import Registry, Version, check_all

GATE = {"mlops.gate": "promote", "mlops.decision": "promoted"}


def line(event: str, run: str = "r1", **details: Any) -> dict[str, Any]:
    return {"event": event, "run_id": run, "details": details}


def healthy() -> tuple[Registry, list[dict[str, Any]]]:
    """v1 promoted on a cold start, v2 gated against v1 and promoted by the canary."""
    registry = Registry(
        [
            Version("1", "m1", {"mlops.run_id": "first", **GATE, "mlops.gate_champion": "none"}),
            Version("2", "m2", {"mlops.run_id": "asset", **GATE, "mlops.gate_champion": "1"}),
        ],
        {"champion": "2", "previous_champion": "1"},
    )
    audit = [
        line("trained", "first", version="1"),
        line("gated", "first", version="1", champion=None, decision="promote"),
        line("promoted", "first", champion="1", previous_champion=None, changed="yes"),
        line("trained", "asset", version="2"),
        line("gated", "asset", version="2", champion="1", decision="promote"),
        line("promoted", "asset", champion="2", previous_champion="1"),
    ]
    return registry, audit


def keys(registry: Registry, audit: list[dict[str, Any]], **allowed: int) -> list[str]:
    return [key for key, _ in check_all("churn", registry, audit, allowed)]


def test_a_correct_history_passes() -> None:
    assert keys(*healthy()) == []


def test_a_cleared_retrain_promoted_without_its_gate_is_named() -> None:
    """Issue 13, item 2: v3 trained by the clear, canaried against v1, promoted."""
    registry, audit = healthy()
    registry.versions.append(Version("3", "m3", {"mlops.run_id": "asset"}))
    registry.aliases = {"champion": "3", "previous_champion": "1", "challenger": "2"}
    audit += [
        line("trained", "asset", version="3"),
        line("promoted", "asset", champion="3", previous_champion="1"),
    ]
    found = keys(registry, audit, asset=2)
    assert found.count("ungated_promotion") == 1
    assert "challenger_left" in found
    assert "tags_disagree" in found  # v3 champion without a gate tag or a gate record


def test_a_promotion_gated_against_another_champion_is_named() -> None:
    registry, audit = healthy()
    audit[-1] = line("promoted", "asset", champion="2", previous_champion="5")
    registry.aliases["previous_champion"] = "5"
    assert keys(registry, audit) == ["ungated_promotion", "tags_disagree"]


def test_an_approval_decision_needs_the_answer() -> None:
    registry, audit = healthy()
    audit[4] = line("gated", "asset", version="2", champion="1", decision="approval")
    assert keys(registry, audit) == ["ungated_promotion"]
    audit.insert(5, line("approved", "asset", version="2", by="admin"))
    assert keys(registry, audit) == []


def test_a_second_version_of_one_training_is_a_duplicate() -> None:
    registry, audit = healthy()
    registry.versions.append(Version("3", "m2", {"mlops.run_id": "asset"}))
    audit.append(line("trained", "asset", version="3"))
    assert keys(registry, audit).count("duplicate_version") == 2  # same MLflow run, same DAG run


def test_aliases_that_disagree_with_the_audit_and_unaudited_versions_are_named() -> None:
    registry, audit = healthy()
    registry.aliases["champion"] = "1"
    registry.versions.append(Version("3", "m3", {"mlops.run_id": "other"}))
    assert sorted(keys(registry, audit)) == ["aliases_disagree", "lost_audit"]


def test_a_champion_whose_tags_disagree_is_named() -> None:
    """The alias moved (by hand, or by a canary of a rejected version): its tags disagree."""
    registry, audit = healthy()
    registry.versions[1].tags["mlops.decision"] = "rolled_back_canary"
    assert keys(registry, audit) == ["tags_disagree"]


def test_a_promotion_whose_gate_record_names_another_champion_is_named() -> None:
    """The issue's v3: canaried against v1 while v2 was champion; its record says v1."""
    registry, audit = healthy()
    registry.versions[1].tags["mlops.gate_champion"] = "7"
    assert keys(registry, audit) == ["tags_disagree"]


def test_the_refused_clear_leaves_a_history_that_passes() -> None:
    """What the fix leaves after issue 13's clear: v3 trained, its release refused (it was
    never gated), champion and audit untouched, no challenger."""
    registry, audit = healthy()
    registry.versions.append(
        Version("3", "m3", {"mlops.run_id": "asset", "mlops.decision": "pending"})
    )
    audit += [
        line("trained", "asset", version="3"),
        line("release_refused", "asset", version="2", reason="version 3 has not been gated"),
    ]
    assert keys(registry, audit, asset=2) == []
