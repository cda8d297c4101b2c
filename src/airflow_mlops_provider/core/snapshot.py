"""Data snapshots: a content hash that names a batch, and the time-based train/holdout split.

The snapshot id is computed from the values (not file bytes or mtimes), so re-reading the same
data — from parquet, CSV or S3 — gives the same id, and a cleared task finds the same snapshot.
"""

from __future__ import annotations

import hashlib

import pandas as pd

ID_LENGTH = 16


def snapshot_id(frame: pd.DataFrame) -> str:
    """Hash column names, dtypes and row values; order-sensitive on purpose (rows are data)."""
    digest = hashlib.sha256()
    for name, dtype in frame.dtypes.items():
        digest.update(f"{name}:{dtype}\n".encode())
    rows = pd.util.hash_pandas_object(frame, index=False, categorize=False).to_numpy()
    digest.update(rows.tobytes())
    return digest.hexdigest()[:ID_LENGTH]


def time_split(
    frame: pd.DataFrame, time_column: str, holdout_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Newest rows are the holdout; every training row is strictly older than every holdout row.

    Rows that share the cut-off timestamp all go to the holdout, so no training row is from
    the holdout's time. Raises ValueError when the split would leave either side empty.
    """
    ordered = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    times = ordered[time_column]
    cut_index = len(ordered) - max(1, round(len(ordered) * holdout_fraction))
    if cut_index <= 0:
        raise ValueError(f"{len(ordered)} rows cannot be split into train and holdout")
    cutoff = times.iloc[cut_index]
    train = ordered[times < cutoff]
    holdout = ordered[times >= cutoff]
    if train.empty:
        raise ValueError(f"all rows share the time {cutoff}; no training rows before the holdout")
    return train, holdout
