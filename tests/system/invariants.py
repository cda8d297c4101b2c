"""The release invariants (DESIGN.md §4), checked on what a pipeline left behind: its MLflow
model versions (aliases, tags) and its audit log. Pure functions over plain data, so each
check is tested on its own (tests/unit/test_system_invariants.py) and cannot silently pass.

Each returns a list of (key, message) — empty when the invariant holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Problem = tuple[str, str]


@dataclass
class Version:
    version: str
    run_id: str  # the MLflow run it was registered from
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Registry:
    """One registered model: its versions and its aliases (alias -> version)."""

    versions: list[Version]
    aliases: dict[str, str]


def check_all(
    model: str, registry: Registry, audit: list[dict[str, Any]], allowed: dict[str, int]
) -> list[Problem]:
    """Every invariant for one model; `allowed` is the most versions each DAG run may have
    registered (1, plus one per clear of its `retrain`)."""
    return [
        *one_version_per_training(model, registry, allowed),
        *no_ungated_promotion(model, registry, audit),
        *aliases_agree_with_audit(model, registry, audit),
        *tags_agree_with_aliases(model, registry, audit),
        *every_version_audited(model, registry, audit),
    ]


def one_version_per_training(
    model: str, registry: Registry, allowed: dict[str, int]
) -> list[Problem]:
    """No MLflow run registered twice; no DAG run made more versions than it trained."""
    problems = []
    for run_id, count in Counter(v.run_id for v in registry.versions).items():
        if count > 1:
            problems.append(
                ("duplicate_version", f"{model}: MLflow run {run_id} has {count} versions")
            )
    per_dag_run = Counter(v.tags.get("mlops.run_id", "?") for v in registry.versions)
    for dag_run, count in per_dag_run.items():
        if count > allowed.get(dag_run, 1):
            problems.append(
                (
                    "duplicate_version",
                    f"{model}: DAG run {dag_run} registered {count} versions "
                    f"(at most {allowed.get(dag_run, 1)} expected)",
                )
            )
    return problems


def no_ungated_promotion(
    model: str, registry: Registry, audit: list[dict[str, Any]]
) -> list[Problem]:
    """Every promotion is of a version the gate passed (or a person approved) against the
    champion it replaced, and the version carries the gate's tag."""
    problems = []
    tags = {v.version: v.tags for v in registry.versions}
    for promoted in _events(audit, "promoted"):
        version = str(promoted["details"].get("champion"))
        previous = _str(promoted["details"].get("previous_champion"))
        gates = [g for g in _events(audit, "gated") if str(g["details"].get("version")) == version]
        passed = [g for g in gates if g["details"].get("decision") in ("promote", "approval")]
        if not passed:
            problems.append(
                ("ungated_promotion", f"{model} v{version} promoted without a passing gate")
            )
            continue
        judged_against = {_str(g["details"].get("champion")) for g in passed}
        if previous not in judged_against:
            problems.append(
                (
                    "ungated_promotion",
                    f"{model} v{version} replaced champion v{previous} but was gated against "
                    f"{sorted(str(j) for j in judged_against)}",
                )
            )
        if "mlops.gate" not in tags.get(version, {}):
            problems.append(("ungated_promotion", f"{model} v{version} has no mlops.gate tag"))
        if all(g["details"].get("decision") == "approval" for g in passed) and not any(
            str(a["details"].get("version")) == version for a in _events(audit, "approved")
        ):
            problems.append(
                ("ungated_promotion", f"{model} v{version} promoted without its approval")
            )
    return problems


def aliases_agree_with_audit(
    model: str, registry: Registry, audit: list[dict[str, Any]]
) -> list[Problem]:
    """`champion`/`previous_champion` are what the last promotion or rollback says; no
    `challenger` alias is left once every run has ended."""
    problems = []
    moves = [e for e in audit if e["event"] in ("promoted", "rolled_back")]
    if moves:
        last = moves[-1]["details"]
        said = {
            "champion": _str(last.get("champion")),
            "previous_champion": _str(last.get("previous_champion") or last.get("from")),
        }
        for alias, version in said.items():
            if version is not None and registry.aliases.get(alias) != version:
                problems.append(
                    (
                        "aliases_disagree",
                        f"{model}: alias {alias} is v{registry.aliases.get(alias)}, the audit's "
                        f"last {moves[-1]['event']} line says v{version}",
                    )
                )
    if "challenger" in registry.aliases:
        problems.append(
            (
                "challenger_left",
                f"{model}: alias challenger still on v{registry.aliases['challenger']} "
                "after every run ended",
            )
        )
    return problems


def tags_agree_with_aliases(
    model: str, registry: Registry, audit: list[dict[str, Any]]
) -> list[Problem]:
    """The champion's version tags say it was promoted after a passing gate; the gate record
    of each promoted version names the champion its promotion replaced (`mlops.gate_champion`,
    "none" for a first model)."""
    problems = []
    tags = {v.version: v.tags for v in registry.versions}
    champion = registry.aliases.get("champion")
    if champion is not None:
        mine = tags.get(champion, {})
        if mine.get("mlops.decision") != "promoted" or mine.get("mlops.gate") not in (
            "promote",
            "approval",
        ):
            problems.append(
                (
                    "tags_disagree",
                    f"{model}: champion v{champion} is tagged decision "
                    f"{mine.get('mlops.decision')!r}, gate {mine.get('mlops.gate')!r}",
                )
            )
    for promoted in _events(audit, "promoted"):
        version = str(promoted["details"].get("champion"))
        previous = _str(promoted["details"].get("previous_champion")) or "none"
        judged = tags.get(version, {}).get("mlops.gate_champion")
        if judged != previous:
            problems.append(
                (
                    "tags_disagree",
                    f"{model}: v{version} replaced champion {previous} but its gate record "
                    f"(mlops.gate_champion) says {judged}",
                )
            )
    return problems


def every_version_audited(
    model: str, registry: Registry, audit: list[dict[str, Any]]
) -> list[Problem]:
    """Nothing lost: each version has its `trained` audit line."""
    trained = {str(e["details"].get("version")) for e in _events(audit, "trained")}
    return [
        ("lost_audit", f"{model} v{v.version} has no 'trained' audit line")
        for v in registry.versions
        if v.version not in trained
    ]


def _events(audit: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [e for e in audit if e["event"] == event]


def _str(value: Any) -> str | None:
    return None if value in (None, "", "None") else str(value)
