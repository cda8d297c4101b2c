"""The system test's release invariants on hand-made registries and audit logs: each check
passes on a correct history and names the problem on the histories issue 13 describes."""

from __future__ import annotations

from typing import Any

from .invariants import Registry, Version, check_all

GATE = {"mlops.gate": "promote"}


def line(event: str, run: str = "r1", **details: Any) -> dict[str, Any]:
    return {"event": event, "run_id": run, "details": details}


def healthy() -> tuple[Registry, list[dict[str, Any]]]:
    """v1 promoted on a cold start, v2 gated against v1 and promoted by the canary."""
    registry = Registry(
        [
            Version("1", "m1", {"mlops.run_id": "first", **GATE}),
            Version("2", "m2", {"mlops.run_id": "asset", **GATE}),
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


def test_a_promotion_gated_against_another_champion_is_named() -> None:
    registry, audit = healthy()
    audit[-1] = line("promoted", "asset", champion="2", previous_champion="5")
    registry.aliases["previous_champion"] = "5"
    assert keys(registry, audit) == ["ungated_promotion"]


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
