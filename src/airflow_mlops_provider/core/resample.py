"""The paired bootstrap over rows, vectorised: B resamples of the means of per-row columns.

Resample b draws n row indices with replacement (numpy's PCG64 generator, seeded, so a gate
run is reproducible); the same draw is applied to every column, so columns of the challenger
and of the champion stay paired row by row. Instead of materialising B resampled tables, each
resample is turned into a count per row (how often the row was drawn) and the means of all
columns for a chunk of resamples are one matrix product, `columns @ counts.T / n`.
Memory is bounded by CHUNK_CELLS count cells per chunk (~16 MB of int64).
"""

from __future__ import annotations

import numpy as np

#: Resamples of the gate's paired bootstrap. The gate uses the bootstrap *standard error*
#: (normal interval), whose Monte Carlo relative error is about 1 / sqrt(2 B) = 2.2 %.
RESAMPLES = 1000
SEED = 20261123
CHUNK_CELLS = 2_000_000


def bootstrap_means(
    columns: np.ndarray, *, resamples: int = RESAMPLES, seed: int = SEED
) -> np.ndarray:
    """(k, resamples) means of the k rows of `columns` (shape (k, n)) over row resamples."""
    data = np.asarray(columns, dtype=float)
    k, n = data.shape
    if n == 0:
        raise ValueError("no rows to resample")
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_CELLS // n)
    out = np.empty((k, resamples))
    for start in range(0, resamples, chunk):
        b = min(chunk, resamples - start)
        drawn = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=b * n).reshape(b, n)
        out[:, start : start + b] = data @ counts.T.astype(float) / n
    return out


def bootstrap_indices(n: int, *, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, n) row indices, for statistics that are not means (e.g. a p95)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))
