"""Fan-out: a batch cut into slices for mapped tasks, one JSON partial result per slice, one
reduce step. No engine of its own: Airflow's dynamic task mapping runs the maps (on any
executor, in the worker or in pods); these functions are what each task calls.

    plan = plan_slices(storage, location, fmt, slices=8)            # one task
    part = validate_map(storage, plan, plan["slices"][i], checks, spill_to=run_folder)  # mapped
    result = validate_reduce(storage, checks, [part, ...])          # one task
    scan = drift_map(storage, plan, plan["slices"][i], profile, ...)                    # mapped
    report = drift_reduce(profile, [scan, ...], settings)           # one task

Every value passed between steps is JSON (XCom-sized: counts, at most 20 examples per check,
the grid counts of each feature); what is large — the uniqueness spill — goes to storage under
`spill_to` and is read back by the reduce step, then removed. A plan pins the batch's files,
its `now` and the number of hash partitions, so every map judges the same data the same way;
a map refuses a batch whose files changed since the plan.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.reader import DEFAULT_CHUNK_ROWS, Unit, open_batch

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.reader import Batch
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.contract import Check, ValidationResult
    from airflow_mlops_provider.core.drift import DriftReport
    from airflow_mlops_provider.core.drift_profile import DriftProfile

__all__ = [
    "BatchChanged",
    "drift_map",
    "drift_reduce",
    "plan_slices",
    "planned_batch",
    "validate_map",
    "validate_reduce",
]

SLICE_ROWS = 5_000_000


class BatchChanged(ValueError):
    """The batch's files differ from those its plan pinned: its slices would judge other data."""


def plan_slices(
    storage: Storage,
    location: str,
    fmt: str = "parquet",
    *,
    slices: int | None = None,
    slice_rows: int = SLICE_ROWS,
    now: dt.datetime | None = None,
    types: Mapping[str, str] | None = None,
    csv: Any = None,
) -> dict[str, Any]:
    """The batch cut into `slices` contiguous slices of whole row groups (CSV: whole files),
    balanced by rows; default: one slice per about `slice_rows` rows."""
    from airflow_mlops_provider.adapters.validation import expected_rows
    from airflow_mlops_provider.core.uniqueness import partitions_for
    from airflow_mlops_provider.core.validation_parts import as_utc

    batch = open_batch(storage, location, fmt, types=types, csv=csv)
    total = expected_rows(batch)
    count = slices or max(1, -(-total // slice_rows))
    units = batch.units(target_rows=max(1, total // (count * 4)))  # fine enough to balance
    groups = _balanced(units, min(count, len(units)))
    return {
        "kind": "slice_plan",
        "location": batch.location,
        "format": fmt,
        "parts": [[p.uri, p.bytes] for p in batch.parts],
        "partitions": partitions_for(total),
        "now": as_utc(now).isoformat(),
        "slices": [
            {"order": i, "units": [u.to_dict() for u in group]} for i, group in enumerate(groups)
        ],
    }


def validate_map(
    storage: Storage,
    plan: Mapping[str, Any],
    slice_: Mapping[str, Any],
    checks: Sequence[Check],
    *,
    spill_to: str,
    types: Mapping[str, str] | None = None,
    csv: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> dict[str, Any]:
    """One slice validated: its partial result as JSON; uniqueness keys spilled under
    `spill_to` (a storage location every task can reach)."""
    from airflow_mlops_provider.adapters.validation import validate_slice

    batch = planned_batch(storage, plan, types, csv)
    order = int(slice_["order"])
    with tempfile.TemporaryDirectory(prefix="mlops-map-") as local:
        part = validate_slice(
            batch,
            checks,
            now=dt.datetime.fromisoformat(plan["now"]),
            spill_root=local,
            units=_units(slice_),
            order=order,
            partitions=int(plan["partitions"]),
            chunk_rows=chunk_rows,
        )
        spills = {
            key: [_publish(storage, Path(folder), spill_to, Path(local)) for folder in folders]
            for key, folders in part.spills.items()
        }
    return {**part.to_dict(), "spills": spills}


def validate_reduce(
    storage: Storage,
    checks: Sequence[Check],
    parts: Sequence[Mapping[str, Any]],
    *,
    keep_spill: bool = False,
) -> ValidationResult:
    """The batch's result from every slice's part (any order); the spill is removed after,
    unless `keep_spill` (mapped tasks: a cleared reduce task reduces the same parts again)."""
    from airflow_mlops_provider.adapters.validation import reduce_validation
    from airflow_mlops_provider.core.validation_parts import ValidationPart

    loaded = [ValidationPart.from_dict(p) for p in parts]
    result = reduce_validation(checks, loaded, read=storage.read_bytes)
    if keep_spill:
        return result
    for part in loaded:
        for folders in part.spills.values():
            for folder in folders:
                storage.remove_tree(folder)
    return result


def drift_map(
    storage: Storage,
    plan: Mapping[str, Any],
    slice_: Mapping[str, Any],
    profile: DriftProfile,
    *,
    prediction_column: str | None = "prediction",
    types: Mapping[str, str] | None = None,
    csv: Any = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> dict[str, Any]:
    """One slice scanned on the reference profile, as JSON."""
    from airflow_mlops_provider.adapters.drift_batch import scan_batch

    batch = planned_batch(storage, plan, types, csv)
    scan = scan_batch(
        batch,
        profile,
        prediction_column=prediction_column,
        units=_units(slice_),
        chunk_rows=chunk_rows,
    )
    return scan.to_dict()


def drift_reduce(
    profile: DriftProfile, scans: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]
) -> DriftReport:
    """The drift report of the whole batch from every slice's scan (any order)."""
    from airflow_mlops_provider.core.drift import compare_profile
    from airflow_mlops_provider.core.drift_stream import BatchScan

    loaded = [BatchScan.from_dict(s) for s in scans]
    merged = loaded[0]
    for scan in loaded[1:]:
        merged = merged.merge(scan)
    return compare_profile(profile, merged, **settings)


def planned_batch(
    storage: Storage, plan: Mapping[str, Any], types: Mapping[str, str] | None, csv: Any
) -> Batch:
    """The plan's batch, opened; BatchChanged when its files are no longer those planned."""
    if plan.get("kind") != "slice_plan":
        raise ValueError("not a slice plan (expected kind: slice_plan, from plan_slices)")
    batch = open_batch(storage, plan["location"], plan["format"], types=types, csv=csv)
    now = [[p.uri, p.bytes] for p in batch.parts]
    if now != [list(p) for p in plan["parts"]]:
        raise BatchChanged(
            f"the batch at {plan['location']} changed since it was planned (files added, "
            "removed or rewritten); plan it again"
        )
    return batch


def _units(slice_: Mapping[str, Any]) -> list[Unit]:
    return [Unit.from_dict(u) for u in slice_["units"]]


def _balanced(units: Sequence[Unit], count: int) -> list[list[Unit]]:
    """`count` contiguous groups of units with about equal rows (order kept)."""
    total = sum(u.rows or 1 for u in units)
    groups: list[list[Unit]] = [[] for _ in range(max(count, 1))]
    seen = 0
    for unit in units:
        index = min(len(groups) - 1, seen * len(groups) // max(total, 1))
        groups[index].append(unit)
        seen += unit.rows or 1
    return [g for g in groups if g]


def _publish(storage: Storage, folder: Path, spill_to: str, local_root: Path) -> str:
    """Copy a local spill folder to storage; returns where it now is."""
    target = storage.join(spill_to, *folder.relative_to(local_root).parts)
    for path in sorted(folder.iterdir()):
        storage.write_bytes(storage.join(target, path.name), path.read_bytes())
    return target
