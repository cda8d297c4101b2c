"""The data gate fanned out: one plan, one map per slice of the batch, one reduce.

`data.fanout` turns the gate into Airflow mapped tasks (docs/data.md, "Fan-out"); these are
what they call. The plan pins the batch's files, the clock the checks judge freshness by,
the uniqueness partitions and where the maps spill their keys; each map validates its slice
of the pinned files (adapters/fanout.py, refusing a batch whose files changed) and returns
its partial result as JSON; the reduce merges the parts and settles the batch exactly as the
single task does (services/validation.py: the same report, quarantine, audit, notification,
snapshot and return value).

The spill stays under the plan task's folder after the reduce, so clearing the reduce task
reduces the same parts again; a plan run again writes a new one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.exceptions import DataReadError, MlopsError

if TYPE_CHECKING:
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.services.validation import Snapshot
    from airflow_mlops_provider.spec import ContractSpec, DataSpec, FanoutSpec


class StalePlan(MlopsError):
    """The batch changed since its plan, or a slice's result is missing: the plan and its
    maps must run again (a retry of the same task cannot help)."""


def plan_batch(
    rt: Runtime,
    *,
    source: str,
    data: DataSpec,
    contract: ContractSpec,
    fanout: FanoutSpec,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The slice plan of the batch at `source` (JSON); an unreadable batch is rejected as
    the single task rejects it."""
    from airflow_mlops_provider.adapters.fanout import plan_slices
    from airflow_mlops_provider.services.validation import contract_types

    location = rt.storage.resolve(source)
    with _rejected_when_unreadable(rt, location):
        plan = plan_slices(
            rt.storage,
            location,
            data.format,
            now=now,
            types=contract_types(contract),
            csv=data.csv,
            **fanout.planning(),
        )
    return {**plan, "spill_to": rt.task_folder("spill")}


def validate_slice(
    rt: Runtime,
    plan: Mapping[str, Any],
    batch_slice: Mapping[str, Any],
    *,
    data: DataSpec,
    contract: ContractSpec,
) -> dict[str, Any]:
    """One slice's partial result (JSON); its uniqueness keys spilled to the plan's folder."""
    from airflow_mlops_provider.adapters.fanout import validate_map
    from airflow_mlops_provider.core.contract import checks_from_contract
    from airflow_mlops_provider.services.validation import contract_types

    with _rejected_when_unreadable(rt, plan["location"]):
        return validate_map(
            rt.storage,
            plan,
            batch_slice,
            checks_from_contract(contract),
            spill_to=plan["spill_to"],
            types=contract_types(contract),
            csv=data.csv,
        )


def reduce_batch(
    rt: Runtime,
    plan: Mapping[str, Any],
    parts: Sequence[Mapping[str, Any] | None],
    *,
    data: DataSpec,
    contract: ContractSpec,
) -> Snapshot:
    """The batch settled from its slices' parts: the single task's snapshot, or
    DataRejected with its quarantine, audit and notification."""
    from airflow_mlops_provider.adapters.fanout import planned_batch, validate_reduce
    from airflow_mlops_provider.core.contract import checks_from_contract
    from airflow_mlops_provider.services.validation import contract_types, settle, snapshot_batch

    _all_parts(plan, parts)
    checks = checks_from_contract(contract)
    location = plan["location"]
    with _rejected_when_unreadable(rt, location):
        batch = planned_batch(rt.storage, plan, contract_types(contract), data.csv)
    try:
        result = validate_reduce(rt.storage, checks, parts, keep_spill=True)  # type: ignore[arg-type]
    except (OSError, ValueError) as exc:  # the spill, not the batch: the maps must run again
        raise StalePlan(f"the slices' uniqueness keys under {plan['spill_to']}: {exc}") from None
    report = settle(rt, batch, result, location)
    return snapshot_batch(rt, batch, location, data, report)


def _all_parts(plan: Mapping[str, Any], parts: Sequence[Mapping[str, Any] | None]) -> None:
    """Every planned slice has its result (a slice cleared and not run again has none)."""
    if len(parts) != len(plan["slices"]) or any(part is None for part in parts):
        done = sum(part is not None for part in parts)
        raise StalePlan(f"{done} of {len(plan['slices'])} planned slices have a result")


@contextmanager
def _rejected_when_unreadable(rt: Runtime, location: str) -> Iterator[None]:
    """A read failure becomes the gate's rejection of an unreadable batch (quarantine,
    audit, notification); a batch changed since its plan becomes StalePlan."""
    from airflow_mlops_provider.adapters.batch_files import describe_error
    from airflow_mlops_provider.adapters.fanout import BatchChanged
    from airflow_mlops_provider.services.validation import reject_unreadable

    try:
        yield
    except BatchChanged as exc:
        raise StalePlan(str(exc)) from None
    except (OSError, ValueError) as exc:  # DataReadError and pyarrow's ArrowInvalid included
        reason = str(exc) if isinstance(exc, DataReadError) else describe_error(exc)
        reject_unreadable(rt, location, f"cannot read the batch: {reason}")
