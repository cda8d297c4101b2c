"""Drift over a batch read in chunks (adapters/reader.py): only the feature columns are read,
each chunk is scanned or fitted and dropped (core/drift_stream.py), so memory stays that of
one chunk plus the profile, whatever the batch size."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.reader import DEFAULT_CHUNK_ROWS

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.reader import Batch, Unit
    from airflow_mlops_provider.core.drift import DriftReport
    from airflow_mlops_provider.core.drift_profile import DriftProfile
    from airflow_mlops_provider.core.drift_stream import BatchScan

__all__ = ["compare_batch", "fit_batch", "scan_batch"]


def scan_batch(
    batch: Batch,
    profile: DriftProfile,
    *,
    prediction_column: str | None = "prediction",
    units: Sequence[Unit] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> BatchScan:
    """The batch (or the slice `units`) scanned on the profile: the map step of a fan-out."""
    from airflow_mlops_provider.core.arrow_types import to_pandas
    from airflow_mlops_provider.core.drift_stream import BatchScan, scan_frame

    predicted = prediction_column if prediction_column in batch.schema.names else None
    columns = [*profile.columns, *([predicted] if predicted else [])]
    merged: BatchScan | None = None
    for table in batch.tables(columns, chunk_rows=chunk_rows, units=units):
        scan = scan_frame(profile, to_pandas(table), predicted)
        merged = scan if merged is None else merged.merge(scan)
    return merged if merged is not None else BatchScan(0)


def compare_batch(
    profile: DriftProfile,
    batch: Batch,
    settings: Mapping[str, Any],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> DriftReport:
    """`compare_profile` on a batch of any size (`settings`: DriftSpec.compare_settings)."""
    from airflow_mlops_provider.core.drift import compare_profile

    scan = scan_batch(
        batch, profile, prediction_column=settings.get("prediction_column"), chunk_rows=chunk_rows
    )
    return compare_profile(profile, scan, **settings)


def fit_batch(
    batch: Batch,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    metadata: Mapping[str, str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    spill_dir: str | None = None,
) -> DriftProfile:
    """The reference profile of a batch of any size, equal to `fit_profile` on it whole."""
    from airflow_mlops_provider.core.arrow_types import to_pandas
    from airflow_mlops_provider.core.drift_stream import ProfileFitter

    missing = [c for c in [*numeric, *categorical] if c not in batch.schema.names]
    if missing:
        raise ValueError(f"columns {missing} missing from the reference batch {batch.location}")
    with tempfile.TemporaryDirectory(prefix="mlops-fit-", dir=spill_dir) as folder:
        fitter = ProfileFitter(numeric=numeric, categorical=categorical, spill_dir=folder)
        for table in batch.tables([*numeric, *categorical], chunk_rows=chunk_rows):
            fitter.add(to_pandas(table))
        return fitter.finish(metadata)
