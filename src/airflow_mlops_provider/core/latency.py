"""Prediction latency as a serving system sees it: time per batch, p95 over repeated batches.

The first call is a warm-up (lazy imports, caches) and not counted. Timings are wall-clock
(`time.perf_counter`), so they measure this machine at this moment: compare challenger and
champion measured back to back, and keep budgets generous.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np


def measure(
    predict: Callable[[Any], Any], frame: Any, *, batch_size: int, repeats: int
) -> dict[str, float]:
    """p50/p95 milliseconds of `predict` on `repeats` batches of `batch_size` holdout rows."""
    if len(frame) == 0:
        raise ValueError("no rows to time predictions on")
    starts = max(1, len(frame) - batch_size + 1)
    batches = [frame.iloc[(i * batch_size) % starts :][:batch_size] for i in range(repeats)]
    predict(batches[0])  # warm-up
    timings = []
    for batch in batches:
        started = time.perf_counter()
        predict(batch)
        timings.append((time.perf_counter() - started) * 1000)
    values = np.asarray(timings)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "batch_size": float(min(batch_size, len(frame))),
        "batches": float(repeats),
    }
