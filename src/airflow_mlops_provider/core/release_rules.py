"""The release invariants (DESIGN.md §4) as pure rules over what the registry records.

The gate writes its decision ON the model version (`GateRecord.tags`): the decision, the
champion it judged the version against, the holdout and the DAG run. A person's answer is
recorded there too. Before anything is canaried or promoted, `check_release` compares that
record with the registry as it is *now*:

- the version to release is the one the gate judged, and nothing newer was trained by this
  DAG run since (a cleared `retrain` must be gated again);
- its record is a pass (`promote`), or `approval` with a person's `approved` for the same
  comparison;
- it was judged against the current champion (a champion moved by another run, or a
  rollback, invalidates the comparison).

A version that already is the champion has nothing left to release. Every refusal says which
version, which champion, and what to clear or re-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GATE_TAG = "mlops.gate"
GATE_CHAMPION_TAG = "mlops.gate_champion"
GATE_HOLDOUT_TAG = "mlops.gate_holdout"
GATE_RUN_TAG = "mlops.gate_run_id"
APPROVAL_TAG = "mlops.approval"
APPROVAL_CHAMPION_TAG = "mlops.approval_champion"
NO_CHAMPION = "none"  # the tag value when the gate had no champion to compare with
PASSING = ("promote", "approval")
RELEASE, RELEASED, REFUSED = "release", "released", "refused"
REGATE = "clear `evaluate` with its downstream tasks so the gate judges it"


@dataclass(frozen=True)
class GateRecord:
    """What the gate (and a person) decided about one version, as recorded on it."""

    version: str
    decision: str | None  # promote / approval / reject; None: never gated
    champion: str | None  # the champion it was judged against; None: there was none
    holdout: str | None = None
    run_id: str | None = None
    approval: str | None = None  # approved / rejected; None: nobody answered
    approval_champion: str | None = None
    # False when the tag naming the champion is absent (a record this rule cannot trust)
    champion_recorded: bool = True
    approval_champion_recorded: bool = True

    @classmethod
    def from_tags(cls, version: str, tags: Mapping[str, str]) -> GateRecord:
        return cls(
            version=str(version),
            decision=tags.get(GATE_TAG) or None,
            champion=_champion(tags.get(GATE_CHAMPION_TAG)),
            holdout=tags.get(GATE_HOLDOUT_TAG),
            run_id=tags.get(GATE_RUN_TAG),
            approval=tags.get(APPROVAL_TAG),
            approval_champion=_champion(tags.get(APPROVAL_CHAMPION_TAG)),
            champion_recorded=GATE_CHAMPION_TAG in tags,
            approval_champion_recorded=APPROVAL_CHAMPION_TAG in tags,
        )

    def tags(self) -> dict[str, str]:
        """The gate's part of the record, as version tags."""
        return {
            GATE_TAG: self.decision or "",
            GATE_CHAMPION_TAG: self.champion or NO_CHAMPION,
            GATE_HOLDOUT_TAG: self.holdout or "",
            GATE_RUN_TAG: self.run_id or "",
        }


@dataclass(frozen=True)
class ReleaseCheck:
    """`release`: go on, comparing with and replacing `champion`; `released`: the version
    already is the champion (nothing to move); `refused`: `reason` says why and what to do."""

    kind: str
    version: str
    champion: str | None
    reason: str = ""


def check_release(
    record: GateRecord, *, champion_now: str | None, newest_of_run: str | None
) -> ReleaseCheck:
    """May `record.version` be canaried/promoted now? `champion_now` is the `champion` alias
    read from the registry; `newest_of_run` the newest version this DAG run registered."""
    v, judged = record.version, record.champion
    if newest_of_run is not None and int(newest_of_run) > int(v):
        return _refuse(
            record,
            f"this run's `retrain` registered version {newest_of_run} after the gate judged "
            f"version {v} (against {_name(judged)}); version {newest_of_run} has not been "
            f"gated — {REGATE} against {_name(champion_now)}",
        )
    if champion_now == v:
        return ReleaseCheck(RELEASED, v, judged)
    if record.decision is None:
        return _refuse(record, f"version {v} has no gate record (`{GATE_TAG}` tag); {REGATE}")
    if not record.champion_recorded:
        return _refuse(
            record,
            f"version {v}'s gate record does not name the champion it was judged against; "
            f"{REGATE} against {_name(champion_now)}",
        )
    if record.decision not in PASSING:
        return _refuse(record, f"the gate decided {record.decision!r} for version {v}")
    if record.decision == "approval" and record.approval != "approved":
        return _refuse(
            record,
            f"the gate asked a person about version {v} and the answer is "
            f"{record.approval or 'missing'}; answer `approve` (or clear it) to release it",
        )
    if record.decision == "approval" and (
        not record.approval_champion_recorded or record.approval_champion != judged
    ):
        given = _name(record.approval_champion) if record.approval_champion_recorded else "?"
        return _refuse(
            record,
            f"the approval of version {v} was given against {given}, the gate's record is "
            f"against {_name(judged)}; clear `approve` to ask again",
        )
    if judged != champion_now:
        return _refuse(
            record,
            f"version {v} was gated against {_name(judged)}, but the champion is now "
            f"{_name(champion_now)}; {REGATE} against {_name(champion_now)}",
        )
    return ReleaseCheck(RELEASE, v, champion_now)


def _champion(value: str | None) -> str | None:
    return None if value in (None, "", NO_CHAMPION) else str(value)


def _refuse(record: GateRecord, reason: str) -> ReleaseCheck:
    return ReleaseCheck(REFUSED, record.version, record.champion, reason)


def _name(champion: str | None) -> str:
    return f"champion version {champion}" if champion else "no champion"
