"""Prediction latency as a serving system sees it: time per batch, p95 over repeated batches.

The first call is a warm-up (lazy imports, caches) and not counted. Timings are wall-clock
(`time.perf_counter`), so they measure this machine at this moment. With a champion the two
models are timed *interleaved* on the same batches (challenger then champion, the order
swapped every repeat), so a load change on a shared machine hits both alike and the repeats
are pairs.

Uncertainty: the p95 of a few dozen repeats is noisy. `p95_interval` is the percentile
bootstrap over repeats (RESAMPLES resamples, fixed seed) and `p95_difference` the paired
bootstrap of challenger - champion over the same repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from airflow_mlops_provider.core.resample import RESAMPLES, SEED, bootstrap_indices

Predict = Callable[[Any], Any]


def measure(predict: Predict, frame: Any, *, batch_size: int, repeats: int) -> dict[str, Any]:
    """p50/p95 milliseconds of `predict` on `repeats` batches of `batch_size` holdout rows."""
    (timed,) = _time([predict], frame, batch_size=batch_size, repeats=repeats)
    return summary(timed, min(batch_size, len(frame)))


def measure_pair(
    challenger: Predict, champion: Predict, frame: Any, *, batch_size: int, repeats: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both models timed interleaved on the same batches: (challenger, champion) summaries."""
    mine, theirs = _time([challenger, champion], frame, batch_size=batch_size, repeats=repeats)
    size = min(batch_size, len(frame))
    return summary(mine, size), summary(theirs, size)


def _time(models: list[Predict], frame: Any, *, batch_size: int, repeats: int) -> list[list[float]]:
    if len(frame) == 0:
        raise ValueError("no rows to time predictions on")
    starts = max(1, len(frame) - batch_size + 1)
    batches = [frame.iloc[(i * batch_size) % starts :][:batch_size] for i in range(repeats)]
    for predict in models:
        predict(batches[0])  # warm-up
    timings: list[list[float]] = [[] for _ in models]
    for i, batch in enumerate(batches):
        order = range(len(models)) if i % 2 == 0 else reversed(range(len(models)))
        for k in order:
            started = time.perf_counter()
            models[k](batch)
            timings[k].append((time.perf_counter() - started) * 1000)
    return timings


def summary(timings: list[float], batch_size: int) -> dict[str, Any]:
    values = np.asarray(timings)
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "batch_size": float(batch_size),
        "batches": float(len(values)),
        "timings_ms": [round(float(t), 4) for t in values],
    }


def bootstrap_p95(timings: list[float], *, seed: int = SEED) -> np.ndarray:
    """p95 of each bootstrap resample of the repeats."""
    values = np.asarray(timings, dtype=float)
    picks = bootstrap_indices(values.size, resamples=RESAMPLES, seed=seed)
    return np.percentile(values[picks], 95, axis=1)


def p95_interval(timings: list[float]) -> Callable[[float], tuple[float, float]]:
    """Percentile-bootstrap interval of the p95, as a function of the one-sided level."""
    draws = bootstrap_p95(timings)
    return lambda a: (float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a)))


def p95_difference(
    challenger: list[float], champion: list[float], alpha: float
) -> dict[str, float]:
    """challenger p95 - champion p95 with its paired-bootstrap (1 - 2 alpha) interval."""
    a, b = np.asarray(challenger, dtype=float), np.asarray(champion, dtype=float)
    if a.size != b.size or not a.size:
        raise ValueError(f"cannot pair {a.size} and {b.size} timings")
    picks = bootstrap_indices(a.size, resamples=RESAMPLES, seed=SEED)
    draws = np.percentile(a[picks], 95, axis=1) - np.percentile(b[picks], 95, axis=1)
    return {
        "difference_ms": float(np.percentile(a, 95) - np.percentile(b, 95)),
        "lower_ms": float(np.quantile(draws, alpha)),
        "upper_ms": float(np.quantile(draws, 1 - alpha)),
    }
