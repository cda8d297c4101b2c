"""Validate a batch against its contract — the data gate before any model step reads data.

A training batch that passes becomes an immutable snapshot (train/holdout split, written
once, read by id), so a cleared and re-run task sees exactly the same rows; a serving window
that passes is handed on as it is. A batch that cannot be read or breaks its contract is
quarantined (as read, with the reason), audited, announced, and `DataRejected` is raised: bad
data does not get better on retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_mlops_provider.exceptions import DataReadError, DataValidationError
from airflow_mlops_provider.services.runtime import VALIDATION_REPORT_LINK

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops_provider.adapters.reader import Batch
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.contract import Check, ValidationResult
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import ContractSpec, DataSpec, MonitoringSpec

log = logging.getLogger(__name__)


class DataRejected(DataValidationError):
    """The batch was unreadable or broke its contract; it is quarantined and nothing
    downstream may run on it. `decision`: the rejection in one line, for people."""

    def __init__(self, message: str, *, decision: str) -> None:
        super().__init__(message)
        self.decision = decision


class UnreadableBatch(DataValidationError):
    """The batch is missing, empty, corrupt or not permitted; the message says which."""


@dataclass(frozen=True)
class Snapshot:
    """A validated training batch, stored: its manifest (ids, URIs, rows, split, source
    files) and the validation report."""

    manifest: dict[str, Any]
    report: str

    def to_xcom(self) -> dict[str, Any]:
        return {**self.manifest, "report": self.report}


@dataclass(frozen=True)
class ValidatedWindow:
    """A serving window that passed the contract (target column not required)."""

    window_uri: str
    rows: int
    report: str

    def to_xcom(self) -> dict[str, Any]:
        return {"window_uri": self.window_uri, "rows": self.rows, "report": self.report}


def check_batch(
    storage: Storage,
    location: str,
    fmt: str,
    checks: list[Check],
    *,
    now: datetime | None,
    types: Mapping[str, str] | None = None,
    csv: Any = None,
    chunk_rows: int | None = None,
) -> tuple[Batch, ValidationResult]:
    """Open the batch (adapters/reader.py: one reader for every format, typed by the
    contract) and run the checks over it in chunks (adapters/validation.py: Great Expectations
    per chunk, merged, so memory does not grow with the batch). Also `airflow-mlops
    check-data`.

    Raises UnreadableBatch when the batch cannot be read at all."""
    from airflow_mlops_provider.adapters.batch_files import describe_error
    from airflow_mlops_provider.adapters.reader import open_batch
    from airflow_mlops_provider.adapters.validation import validate_batch as validate_chunks

    chunking = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    try:
        batch = open_batch(storage, location, fmt, types=types, csv=csv)
        return batch, validate_chunks(batch, checks, now=now, **chunking)
    except (OSError, ValueError) as exc:  # DataReadError and pyarrow's ArrowInvalid included
        reason = str(exc) if isinstance(exc, DataReadError) else describe_error(exc)
        raise UnreadableBatch(f"cannot read the batch: {reason}") from None


def contract_types(contract: ContractSpec) -> dict[str, str]:
    """Column → contract type: how the reader types CSV text and partition folders."""
    return {name: rule.type for name, rule in contract.columns.items()}


def validate_batch(
    rt: Runtime,
    *,
    source: str,
    data: DataSpec,
    contract: ContractSpec,
    now: datetime | None = None,
) -> Snapshot:
    """Validate the training batch at `source` (freshness judged as of `now`, the run's data
    interval end, so a backfill is not "stale"), then snapshot it."""
    from airflow_mlops_provider.core.contract import checks_from_contract

    location = rt.storage.resolve(source)
    checks = checks_from_contract(contract)
    read = {"types": contract_types(contract), "csv": data.csv}
    batch, _, report = _gate(rt, location, data.format, checks, now, read)
    return snapshot_batch(rt, batch, location, data, report)


def snapshot_batch(
    rt: Runtime, batch: Batch, location: str, data: DataSpec, report: str
) -> Snapshot:
    """The snapshot of a batch that passed (also the fan-out's reduce step)."""
    manifest = _write_snapshot(rt, batch.read_pandas(), location, data)
    log.info(
        "Snapshot %s: %s train rows, %s holdout rows",
        manifest["snapshot_id"],
        manifest["train_rows"],
        manifest["holdout_rows"],
    )
    return Snapshot(manifest, report)


def validate_window(
    rt: Runtime,
    *,
    window_uri: str,
    contract: ContractSpec,
    target: str,
    monitoring: MonitoringSpec,
    now: datetime | None = None,
) -> ValidatedWindow:
    """Validate a monitoring window: no label column needed, the logs' own columns and the
    prediction column allowed."""
    from airflow_mlops_provider.core.contract import checks_from_contract

    checks = checks_from_contract(
        contract,
        skip_columns=[target],
        extra_columns=[*monitoring.log_columns, monitoring.prediction_column],
    )
    types = {"types": contract_types(contract)}
    _, rows, report = _gate(rt, window_uri, "parquet", checks, now, types)
    return ValidatedWindow(window_uri, rows, report)


def _gate(
    rt: Runtime,
    location: str,
    fmt: str,
    checks: list[Check],
    now: datetime | None,
    read: Mapping[str, Any],
) -> tuple[Batch, int, str]:
    """(batch, rows, report URI) of a batch that passed; DataRejected otherwise."""
    try:
        batch, result = check_batch(rt.storage, location, fmt, checks, now=now, **read)
    except UnreadableBatch as exc:
        reject_unreadable(rt, location, str(exc))
    return batch, result.row_count, settle(rt, batch, result, location)


def reject_unreadable(rt: Runtime, location: str, reason: str) -> NoReturn:
    """Quarantine, audit and announce a batch that cannot be read; DataRejected."""
    _quarantine(rt, None, location, reason)
    rt.audit("rejected_data", {"source": location, "failed": [reason]})
    rt.notify(f":no_entry: {rt.pipeline}: batch {location} rejected: {reason}")
    raise DataRejected(
        f"batch {location} rejected; nothing downstream runs.\n{reason}",
        decision=f"Batch {location} rejected: {reason}",
    ) from None


def settle(rt: Runtime, batch: Batch, result: ValidationResult, location: str) -> str:
    """The report URI of a batch whose result passed; a failed one is quarantined, audited,
    announced and DataRejected (the fan-out's reduce step settles the same way)."""
    report = _write_report(rt, result, location)
    rt.publish(VALIDATION_REPORT_LINK, report)
    log.info("%s\nReport: %s", result.summary(), report)
    if not result.passed:
        _quarantine(rt, batch.read_pandas(), location, f"{result.summary()}\nReport: {report}")
        failed = [c.check.describe() for c in result.failures()]
        rt.audit("rejected_data", {"source": location, "failed": failed, "report": report})
        rt.notify(
            f":no_entry: {rt.pipeline}: batch {location} failed validation "
            f"({len(failed)} checks). Report: {report}"
        )
        raise DataRejected(
            f"batch {location} failed its contract; nothing downstream "
            f"runs.\n{result.summary()}\nReport: {report}",
            decision=f"Batch {location} rejected: {result.summary()}",
        )
    rt.audit("validated", {"source": location, "rows": result.row_count})
    return report


def _quarantine(rt: Runtime, frame: pd.DataFrame | None, location: str, why: str) -> None:
    """Keep the rejected batch (as read) and why, under quarantine/<dag>/<run>/. The source
    is never touched: after a fix, clearing the task validates it again."""
    storage = rt.storage
    folder = rt.layout.quarantine(rt.task)
    if frame is not None:
        storage.write_frame(frame, storage.join(folder, "batch.parquet"))
    record = {"source": location, "task_id": rt.task.task_id, "why": why}
    storage.write_text(storage.join(folder, "reason.json"), json.dumps(record))
    log.warning("Batch quarantined in %s", folder)


def _write_report(rt: Runtime, result: ValidationResult, location: str) -> str:
    from airflow_mlops_provider.core.contract import render_validation_html

    storage = rt.storage
    storage.write_text(
        rt.task_folder("validation.json"), json.dumps(result.to_dict(), indent=2, default=str)
    )
    html = render_validation_html(result, title=f"{rt.pipeline}: data validation", source=location)
    return storage.write_text(rt.task_folder("validation.html"), html)


def _write_snapshot(
    rt: Runtime, frame: pd.DataFrame, location: str, data: DataSpec
) -> dict[str, Any]:
    """Store the frame as snapshot <content hash>; its manifest is written last, so a
    re-run finds a complete snapshot and returns the same manifest."""
    from airflow_mlops_provider.core.snapshot import snapshot_id, time_split

    storage, split = rt.storage, data.split
    ident = snapshot_id(frame)
    folder = rt.layout.snapshot(ident)
    manifest_uri = storage.join(folder, "manifest.json")
    if storage.exists(manifest_uri):
        return json.loads(storage.read_text(manifest_uri))
    train, holdout = time_split(frame, split.time_column, split.holdout_fraction)
    groups = data.fanout.snapshot_row_group_rows(len(train)) if data.fanout else None
    manifest = {
        "snapshot_id": ident,
        "source": location,
        "source_files": storage.files(location, data.format),
        "rows": len(frame),
        "schema": {name: str(dtype) for name, dtype in frame.dtypes.items()},
        "train_uri": storage.write_frame(
            train, storage.join(folder, "train.parquet"), row_group_rows=groups
        ),
        "holdout_uri": storage.write_frame(holdout, storage.join(folder, "holdout.parquet")),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "split": {
            "time_column": split.time_column,
            "holdout_fraction": split.holdout_fraction,
            "holdout_from": str(holdout[split.time_column].min()),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "manifest_uri": manifest_uri,
    }
    storage.write_text(manifest_uri, json.dumps(manifest, indent=2))
    return manifest
