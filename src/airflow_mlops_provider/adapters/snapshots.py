"""Immutable data snapshots: the validated batch, split once, written once, read by id.

Training reads the snapshot, not the moving source, so a cleared and re-run task sees exactly
the same rows. Writing is skipped when the manifest exists (the manifest is written last).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.snapshot import snapshot_id, time_split

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops_provider.adapters.storage import Storage


def write_snapshot(
    storage: Storage,
    frame: pd.DataFrame,
    *,
    pipeline_root: str,
    source: str,
    source_files: list[dict[str, Any]],
    time_column: str,
    holdout_fraction: float,
) -> dict[str, Any]:
    """Store frame as snapshot <id>; return its manifest (same manifest on every re-run)."""
    ident = snapshot_id(frame)
    folder = storage.join(pipeline_root, "snapshots", ident)
    manifest_uri = storage.join(folder, "manifest.json")
    if storage.exists(manifest_uri):
        return json.loads(storage.read_text(manifest_uri))
    train, holdout = time_split(frame, time_column, holdout_fraction)
    manifest = {
        "snapshot_id": ident,
        "source": source,
        "source_files": source_files,
        "rows": len(frame),
        "schema": {name: str(dtype) for name, dtype in frame.dtypes.items()},
        "train_uri": storage.write_frame(train, storage.join(folder, "train.parquet")),
        "holdout_uri": storage.write_frame(holdout, storage.join(folder, "holdout.parquet")),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "split": {
            "time_column": time_column,
            "holdout_fraction": holdout_fraction,
            "holdout_from": str(holdout[time_column].min()),
        },
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "manifest_uri": manifest_uri,
    }
    storage.write_text(manifest_uri, json.dumps(manifest, indent=2))
    return manifest
