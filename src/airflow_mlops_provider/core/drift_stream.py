"""Drift on batches of any size: mergeable scans of the current batch, and an exact streaming
fit of the reference profile.

**Comparing.** `scan_frame` scans one chunk of the current batch on the profile's grid (the
same `scan_numeric` / `scan_categorical` as a whole frame); `BatchScan.merge` adds chunks up:
grid counts, missing and non-finite counts, the sums outside the grid and category counts add
exactly; mean and standard deviation merge by Chan's formula (equal to the whole-frame values
up to float rounding, ~1e-15 relative); the raw values are kept while the merged batch has at
most ``KEEP_VALUES_MAX`` of them (exact KS p-value, as for a whole frame). A `BatchScan` is
what `core.drift.compare_profile` takes in place of a frame, and plain JSON for mapped tasks.

**Fitting.** `ProfileFitter` takes the reference chunk by chunk and gives the profile that
`fit_profile` gives on the whole frame — the same grid, counts and bins, not a sketch: each
numeric column's finite values are sorted into runs of at most `run_values` values spilled to
disk (``.npy``), and the 2,001 quantiles are selected exactly across the runs by a binary
search on the values' order (count of values <= v summed over the runs, ~64 steps); counts at
the grid points are exact sums over the runs. Up to ``EXACT_MAX_DISTINCT`` distinct values the
grid is every distinct value, as in `fit_numeric`. Memory: one run per numeric column.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airflow_mlops_provider.core.drift_profile import (
    EXACT_MAX_DISTINCT,
    GRID_LEVELS,
    KEEP_VALUES_MAX,
    PSI_BINS,
    CategoricalProfile,
    CategoricalScan,
    DriftProfile,
    NumericProfile,
    NumericScan,
    categorical_profile,
    category_counts,
    numeric_values,
    scan_categorical,
    scan_numeric,
)

__all__ = ["BatchScan", "ProfileFitter", "scan_frame"]

RUN_VALUES = 4_000_000


# --------------------------------------------------------------------------------------------
# the current batch
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchScan:
    """The current batch as the drift comparison needs it: per column a scan, plus rows.

    Quacks like the frame `compare_profile` otherwise takes: `columns`, `[name]`, `len()`."""

    rows: int
    scans: Mapping[str, NumericScan | CategoricalScan] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.scans)

    def __getitem__(self, name: str) -> NumericScan | CategoricalScan:
        return self.scans[name]

    def __len__(self) -> int:
        return self.rows

    def merge(self, other: BatchScan) -> BatchScan:
        if set(self.scans) != set(other.scans):
            raise ValueError(
                f"scans of one batch cover different columns: {sorted(self.scans)} vs "
                f"{sorted(other.scans)}"
            )
        merged = {n: _merge(self.scans[n], other.scans[n]) for n in self.scans}
        return BatchScan(self.rows + other.rows, merged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "batch_scan",
            "rows": self.rows,
            "scans": {n: _scan_to_dict(s) for n, s in self.scans.items()},
        }

    @classmethod
    def from_dict(cls, d: Any) -> BatchScan:
        if not isinstance(d, Mapping) or d.get("kind") != "batch_scan":
            raise ValueError("not a batch scan (expected kind: batch_scan)")
        return cls(int(d["rows"]), {str(n): _scan_from_dict(s) for n, s in d["scans"].items()})


def scan_frame(
    profile: DriftProfile, frame: pd.DataFrame, prediction_column: str | None
) -> BatchScan:
    """Scan one chunk on the profile's columns present in it (and the prediction column)."""
    scans: dict[str, NumericScan | CategoricalScan] = {}
    wanted = list(profile.columns.items())
    if profile.prediction is not None and prediction_column in frame.columns:
        wanted.append((prediction_column, profile.prediction))
    for name, column in wanted:
        if name not in frame.columns:
            continue
        if isinstance(column, NumericProfile):
            scans[name] = scan_numeric(column, frame[name], name)
        else:
            scans[name] = scan_categorical(frame[name])
    return BatchScan(len(frame), scans)


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, CategoricalScan):
        counts = dict(a.counts)
        for key, n in b.counts.items():
            counts[key] = counts.get(key, 0) + n
        return CategoricalScan(a.rows + b.rows, a.missing + b.missing, counts)
    n_a, n_b = a.n, b.n
    n = n_a + n_b
    if n_a == 0 or n_b == 0:
        mean, std = (b.mean, b.std) if n_a == 0 else (a.mean, a.std)
    else:  # Chan et al.: exact in real arithmetic
        delta = b.mean - a.mean
        mean = a.mean + delta * n_b / n
        m2 = a.std**2 * n_a + b.std**2 * n_b + delta * delta * n_a * n_b / n
        std = math.sqrt(max(m2 / n, 0.0))
    values = None
    if n <= KEEP_VALUES_MAX and a.values is not None and b.values is not None:
        values = np.concatenate([a.values, b.values])
    return NumericScan(
        rows=a.rows + b.rows,
        missing=a.missing + b.missing,
        nonfinite=a.nonfinite + b.nonfinite,
        le=a.le + b.le,
        lt=a.lt + b.lt,
        below=a.below + b.below,
        above=a.above + b.above,
        mean=mean,
        std=std,
        values=values,
    )


def _scan_to_dict(scan: Any) -> dict[str, Any]:
    if isinstance(scan, CategoricalScan):
        return {"kind": "categorical", "rows": scan.rows, "missing": scan.missing,
                "counts": dict(scan.counts)}  # fmt: skip
    return {
        "kind": "numeric",
        "rows": scan.rows,
        "missing": scan.missing,
        "nonfinite": scan.nonfinite,
        "le": scan.le.tolist(),
        "lt": scan.lt.tolist(),
        "below": scan.below,
        "above": scan.above,
        "mean": None if math.isnan(scan.mean) else scan.mean,
        "std": None if math.isnan(scan.std) else scan.std,
        "values": None if scan.values is None else scan.values.tolist(),
    }


def _scan_from_dict(d: Mapping[str, Any]) -> Any:
    if d["kind"] == "categorical":
        counts = {str(k): int(v) for k, v in d["counts"].items()}
        return CategoricalScan(int(d["rows"]), int(d["missing"]), counts)
    values = d.get("values")
    return NumericScan(
        rows=int(d["rows"]),
        missing=int(d["missing"]),
        nonfinite=int(d["nonfinite"]),
        le=np.asarray(d["le"], dtype="int64"),
        lt=np.asarray(d["lt"], dtype="int64"),
        below=float(d["below"]),
        above=float(d["above"]),
        mean=math.nan if d["mean"] is None else float(d["mean"]),
        std=math.nan if d["std"] is None else float(d["std"]),
        values=None if values is None else np.asarray(values, dtype="float64"),
    )


# --------------------------------------------------------------------------------------------
# the reference profile
# --------------------------------------------------------------------------------------------


@dataclass
class _Numeric:
    """One numeric column's running state: counts, moments, sorted runs."""

    rows: int = 0
    missing: int = 0
    nonfinite: int = 0
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    buffer: list[np.ndarray] = field(default_factory=list)
    buffered: int = 0
    runs: list[Path] = field(default_factory=list)

    def add(self, values: np.ndarray, rows: int, missing: int, nonfinite: int) -> None:
        self.rows, self.missing, self.nonfinite = (
            self.rows + rows, self.missing + missing, self.nonfinite + nonfinite
        )  # fmt: skip
        if values.size == 0:
            return
        n_b, mean_b = values.size, float(values.mean())
        m2_b = float(values.var()) * n_b
        if self.n == 0:
            self.mean, self.m2 = mean_b, m2_b
        else:
            n = self.n + n_b
            delta = mean_b - self.mean
            self.mean += delta * n_b / n
            self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n += n_b
        self.buffer.append(values)
        self.buffered += n_b


@dataclass
class _Categorical:
    rows: int = 0
    missing: int = 0
    counts: dict[str, int] = field(default_factory=dict)


class ProfileFitter:
    """`fit_profile`, chunk by chunk, with the same result (module docstring)."""

    def __init__(
        self,
        *,
        numeric: Sequence[str],
        categorical: Sequence[str],
        spill_dir: str | Path,
        run_values: int = RUN_VALUES,
    ):
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.spill_dir, self.run_values = Path(spill_dir), run_values
        self._numeric = {name: _Numeric() for name in self.numeric}
        self._categorical = {name: _Categorical() for name in self.categorical}
        self._prediction: _Numeric | _Categorical | None = None

    def add(self, frame: pd.DataFrame, predictions: Any = None) -> None:
        """One chunk of the reference (and the model's predictions on held-out rows)."""
        for name in self.numeric:
            self._add_numeric(self._numeric[name], frame[name], name)
        for name in self.categorical:
            _add_categorical(self._categorical[name], frame[name])
        if predictions is not None:
            self.add_predictions(predictions)

    def finish(self, metadata: Mapping[str, str] | None = None) -> DriftProfile:
        columns: dict[str, Any] = {n: self._numeric_profile(s) for n, s in self._numeric.items()}
        columns.update({n: _categorical_profile(s) for n, s in self._categorical.items()})
        prediction = None
        if isinstance(self._prediction, _Numeric):
            prediction = self._numeric_profile(self._prediction)
        elif isinstance(self._prediction, _Categorical):
            prediction = _categorical_profile(self._prediction)
        ordered = {n: columns[n] for n in [*self.numeric, *self.categorical]}
        return DriftProfile(columns=ordered, prediction=prediction, metadata=dict(metadata or {}))

    def _add_numeric(self, state: _Numeric, series: pd.Series, name: str) -> None:
        values, missing, nonfinite = numeric_values(series, name, "reference")
        state.add(np.array(values, dtype="float64"), int(series.size), missing, nonfinite)
        if state.buffered >= self.run_values:
            self._spill(state)

    def add_predictions(self, predictions: Any) -> None:
        """The model's outputs on one chunk of held-out rows (numbers: numeric, else
        categorical — decided by the first chunk, as `fit_profile` decides on all of them)."""
        series = pd.Series(np.asarray(predictions).reshape(len(predictions), -1)[:, -1])
        if self._prediction is None:
            is_number = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
                series
            )
            self._prediction = _Numeric() if is_number else _Categorical()
        if isinstance(self._prediction, _Numeric):
            self._add_numeric(self._prediction, series, "prediction")
        else:
            _add_categorical(self._prediction, series)

    def _spill(self, state: _Numeric) -> None:
        if not state.buffer:
            return
        run = np.sort(np.concatenate(state.buffer))
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        path = self.spill_dir / f"run-{uuid.uuid4().hex}.npy"
        np.save(path, run)
        state.runs.append(path)
        state.buffer, state.buffered = [], 0

    def _numeric_profile(self, state: _Numeric) -> NumericProfile:
        if state.buffer and state.runs:
            self._spill(state)
        runs = [np.load(p, mmap_mode="r") for p in state.runs]
        if state.buffer:
            runs.append(np.sort(np.concatenate(state.buffer)))
        mean = state.mean if state.n else math.nan
        std = math.sqrt(max(state.m2 / state.n, 0.0)) if state.n else math.nan
        return numeric_profile_from_runs(
            runs, rows=state.rows, missing=state.missing, nonfinite=state.nonfinite,
            mean=mean, std=std,
        )  # fmt: skip


def _add_categorical(state: _Categorical, series: pd.Series) -> None:
    counts, missing = category_counts(series)
    state.rows += int(series.size)
    state.missing += missing
    for key, n in counts.items():
        state.counts[key] = state.counts.get(key, 0) + n


def _categorical_profile(state: _Categorical) -> CategoricalProfile:
    return categorical_profile(state.rows, state.missing, state.counts)


def numeric_profile_from_runs(
    runs: Sequence[np.ndarray],
    *,
    rows: int,
    missing: int,
    nonfinite: int,
    mean: float,
    std: float,
) -> NumericProfile:
    """The profile of the values held, sorted, in `runs` (what `fit_numeric` computes from
    the sorted column: every distinct value up to EXACT_MAX_DISTINCT, else the inverted-CDF
    quantiles at i / GRID_LEVELS, with exact counts)."""
    n = sum(r.size for r in runs)
    if n == 0:
        empty_i = np.zeros(0, dtype="int64")
        return NumericProfile(
            rows, missing, nonfinite, math.nan, math.nan,
            np.zeros(0), empty_i, empty_i, empty_i, exact=True,
        )  # fmt: skip
    distinct = _distinct_counts(runs)
    if distinct is not None:
        grid, eq = distinct
        le, exact = np.cumsum(eq).astype("int64"), True
    else:
        levels = np.arange(GRID_LEVELS + 1) / GRID_LEVELS
        ranks = np.clip(np.ceil(levels * n).astype("int64") - 1, 0, n - 1)
        grid = np.unique(_select(runs, ranks))
        le = _count(runs, grid, "right")
        eq = le - _count(runs, grid, "left")
        exact = False
    targets = np.arange(1, PSI_BINS) * n / PSI_BINS
    edges = np.unique(np.searchsorted(le, targets, side="left"))
    return NumericProfile(
        rows=rows, missing=missing, nonfinite=nonfinite, mean=mean, std=std,
        grid=grid, le=le, eq=eq.astype("int64"), bin_edges=edges.astype("int64"), exact=exact,
    )  # fmt: skip


def _distinct_counts(runs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct values, counts) when there are at most EXACT_MAX_DISTINCT, else None."""
    values, counts = [], []
    for run in runs:
        starts = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
        if starts.size > EXACT_MAX_DISTINCT:
            return None
        values.append(np.asarray(run[starts]))
        counts.append(np.diff(np.r_[starts, run.size]))
    merged, inverse = np.unique(np.concatenate(values), return_inverse=True)
    if merged.size > EXACT_MAX_DISTINCT:
        return None
    return merged, np.bincount(inverse, weights=np.concatenate(counts)).astype("int64")


def _count(runs: Sequence[np.ndarray], probes: np.ndarray, side: str) -> np.ndarray:
    """Values <= (side right) or < (side left) each probe, over all runs."""
    total = np.zeros(probes.size, dtype="int64")
    for run in runs:
        total += np.searchsorted(run, probes, side=side)
    return total


def _select(runs: Sequence[np.ndarray], ranks: np.ndarray) -> np.ndarray:
    """The value at each 0-based rank of the union of sorted runs: for each rank, the smallest
    v with count(<= v) > rank, found by bisecting the floats' total order (64 steps at most)."""
    low = np.full(ranks.size, _key(min(float(r[0]) for r in runs if r.size)), dtype=np.uint64)
    high = np.full(ranks.size, _key(max(float(r[-1]) for r in runs if r.size)), dtype=np.uint64)
    while np.any(low < high):
        middle = low + (high - low) // np.uint64(2)
        enough = _count(runs, _value(middle), "right") > ranks
        high = np.where(enough, middle, high)
        low = np.where(enough, low, middle + np.uint64(1))
    return _value(low)


_SIGN = np.uint64(1 << 63)


def _key(value: float) -> np.uint64:
    """An unsigned integer with the same order as the float (sign-magnitude to two's order)."""
    bits = np.array([value], dtype="float64").view(np.uint64)[0]
    return np.uint64(~bits) if bits & _SIGN else np.uint64(bits | _SIGN)


def _value(keys: np.ndarray) -> np.ndarray:
    negative = (keys & _SIGN) == 0
    bits = np.where(negative, ~keys, keys & ~_SIGN)
    return bits.astype(np.uint64).view("float64")
