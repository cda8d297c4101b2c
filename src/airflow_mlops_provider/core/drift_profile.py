"""Reference profile: what drift detection keeps of the training data, fitted once.

A profile is fitted on the champion's training snapshot when it is trained and stored with its
lineage; comparing a new batch then scans only the new batch (``scan_numeric`` /
``scan_categorical``) and never re-reads or re-sorts the training data.

Per numeric column the profile keeps:

* a **CDF grid**: the reference values at the quantile levels ``i / GRID_LEVELS`` (i = 0..2000,
  the "inverted CDF" definition: the smallest value whose CDF reaches the level, so every grid
  point is a real reference value), deduplicated, with the exact reference counts ``<= g`` and
  ``== g`` at each point. When the column has at most ``EXACT_MAX_DISTINCT`` distinct values the
  grid is *every* distinct value ("exact" profile): then every statistic computed from it equals
  the one computed from the raw sample.
* the **PSI / Jensen-Shannon bins**: the reference deciles (bin edges at quantile levels
  0.1..0.9, right-closed bins ``(-inf, e1], (e1, e2], ..., (e9, +inf)``; repeated edges from ties
  are merged, so a binary column has 3 bins). Edges are grid points, so current counts per bin
  come from the same scan.
* mean, std (population), min, max, and the row / missing (NaN, None) / non-finite (+-inf)
  counts.

Per categorical column: counts of the ``MAX_CATEGORIES`` most frequent values (keys are the
values' text, so ``1`` and ``1.0`` match), a pooled ``other`` count for the rest, and the
missing count. Current values absent from the profile go to an "unseen" bucket (pooled with
``other`` when the reference was truncated, since they cannot then be told apart). For the
*unseen share* signal the profile also keeps the number of categories seen exactly once
(``singletons``: n1 / N is the Good-Turing estimate of how often a new draw from the same
distribution shows a category the reference never saw) and, when it was truncated, the
``KEY_SAMPLE`` smallest 64-bit hashes of all its category keys (a bottom-k sketch): a current
value whose hash is at most the largest kept one is in the reference exactly when its hash was
kept, so the unseen share is measured exactly on that hash-sampled part of the batch.

A saved profile is checked when it is read (``from_dict``): a damaged one (grid not sorted or
not finite, counts of the wrong length or not whole non-negative numbers, cumulative counts
that do not add up) is refused with a message naming the column and what is wrong.

Pure numpy/pandas; no Airflow or MLflow import.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CategoricalProfile",
    "CategoricalScan",
    "DamagedProfileError",
    "DriftProfile",
    "NumericProfile",
    "NumericScan",
    "fit_profile",
    "scan_categorical",
    "scan_numeric",
]

PROFILE_FORMAT_VERSION = 1
#: Quantile levels of the CDF grid (2001 points): the KS statistic from the grid is within the
#: largest grid-cell mass (about 1 / 2000 of each sample for continuous data) of the exact one.
GRID_LEVELS = 2000
#: Up to this many distinct values the grid is every distinct value and statistics are exact.
EXACT_MAX_DISTINCT = 10_000
#: Number of quantile bins for PSI and Jensen-Shannon on numeric columns (deciles).
PSI_BINS = 10
#: Categories kept per categorical column; the rest are pooled into ``other``.
MAX_CATEGORIES = 1000
#: Hashes of category keys kept by a truncated profile (bottom-k sketch for the unseen share).
KEY_SAMPLE = 2048
#: Uniform buckets of the lookup table that maps a value to its grid cell without a binary
#: search (see :func:`scan_numeric`).
_LUT_BUCKETS = 1 << 16


@dataclass(frozen=True)
class NumericProfile:
    """One numeric reference column; see the module docstring for what each part is for."""

    rows: int
    missing: int
    nonfinite: int
    mean: float
    std: float
    grid: np.ndarray  # sorted distinct reference values
    le: np.ndarray  # reference count <= grid[i]
    eq: np.ndarray  # reference count == grid[i]
    bin_edges: np.ndarray  # indices into grid of the PSI/JS bin edges
    exact: bool
    kind: str = field(default="numeric", init=False)

    @property
    def n(self) -> int:
        """Finite values the distribution statistics are computed on."""
        return self.rows - self.missing - self.nonfinite

    @property
    def lt(self) -> np.ndarray:
        return self.le - self.eq

    def quantile_index(self, level: float) -> int:
        """Grid index of the reference's inverted-CDF quantile: the smallest grid value whose
        CDF reaches `level` (a real reference value; exact for an exact profile)."""
        return min(int(np.searchsorted(self.le, level * self.n, side="left")), self.grid.size - 1)

    def quantile(self, level: float) -> float:
        return float(self.grid[self.quantile_index(level)])

    def sample(self) -> np.ndarray:
        """The reference sample itself; only an exact profile holds it."""
        if not self.exact:
            raise ValueError("only an exact profile can rebuild its sample")
        return np.repeat(self.grid, self.eq)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "rows": self.rows,
            "missing": self.missing,
            "nonfinite": self.nonfinite,
            "mean": _json_float(self.mean),
            "std": _json_float(self.std),
            "exact": self.exact,
            "grid": self.grid.tolist(),
            "le": self.le.tolist(),
            "eq": self.eq.tolist(),
            "bin_edges": self.bin_edges.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericProfile:
        profile = cls(
            rows=_count(d["rows"], "rows"),
            missing=_count(d["missing"], "missing"),
            nonfinite=_count(d["nonfinite"], "nonfinite"),
            mean=_from_json_float(d["mean"]),
            std=_from_json_float(d["std"]),
            grid=np.asarray(d["grid"], dtype="float64"),
            le=_counts(d["le"], "le"),
            eq=_counts(d["eq"], "eq"),
            bin_edges=_counts(d["bin_edges"], "bin_edges"),
            exact=bool(d["exact"]),
        )
        profile.check()
        return profile

    def check(self) -> None:
        """Refuse a profile whose parts contradict each other (see the module docstring)."""
        g, le, eq, n = self.grid, self.le, self.eq, self.n
        if n < 0:
            raise ValueError(f"rows {self.rows} < missing {self.missing} + non-finite")
        if not (g.size == le.size == eq.size):
            raise ValueError(f"grid, le, eq have lengths {g.size}, {le.size}, {eq.size}")
        if g.size == 0:
            if n:
                raise ValueError(f"an empty grid for {n} finite values")
            return
        if not np.isfinite(g).all():
            raise ValueError("the grid holds NaN or infinite values")
        if (np.diff(g) <= 0).any():
            raise ValueError("the grid is not strictly increasing (reversed or repeated)")
        if (eq < 1).any() or (np.diff(le) < eq[1:]).any() or le[0] < eq[0]:
            raise ValueError("cumulative counts le and point counts eq do not add up")
        if le[-1] != n:
            raise ValueError(f"the grid counts {le[-1]} values, the profile says {n}")
        if self.exact and (np.diff(np.r_[0, le]) != eq).any():
            raise ValueError("an exact profile whose counts are not every value's")
        if ((self.bin_edges < 0) | (self.bin_edges >= g.size)).any():
            raise ValueError("PSI bin edges point outside the grid")

    @cached_property
    def _lut(self) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
        """(low, scale, first, point, crowded) of the value -> grid-cell lookup table.

        Bucket ``b(x) = clip(floor((x - low) * scale), 0, B - 1)`` is monotone in x (IEEE
        subtraction and multiplication round monotonically), so every grid point in a lower
        bucket is < x and every one in a higher bucket is > x. ``first[b]`` counts grid points
        in buckets below b; ``point[b]`` is the one grid point inside bucket b (NaN when it
        holds none or several); ``crowded[b]`` marks buckets holding several grid points, whose
        values need a real binary search.
        """
        low, high = float(self.grid[0]), float(self.grid[-1])
        span = high - low
        scale = _LUT_BUCKETS / span if span > 0 and math.isfinite(span) else 0.0
        buckets = _bucket(self.grid, low, scale)
        edges = np.arange(_LUT_BUCKETS)
        first = np.searchsorted(buckets, edges, side="left")
        inside = np.searchsorted(buckets, edges, side="right") - first
        point = np.full(_LUT_BUCKETS, np.nan)
        single = inside == 1
        point[single] = self.grid[first[single]]
        return low, scale, first.astype(np.int32), point, inside > 1


@dataclass(frozen=True)
class CategoricalProfile:
    rows: int
    missing: int
    counts: dict[str, int]  # the MAX_CATEGORIES most frequent values
    other: int  # count of the values beyond MAX_CATEGORIES
    singletons: int | None = None  # categories seen once (None: a profile from before)
    key_hashes: frozenset[int] = frozenset()  # truncated profiles: bottom-k key hashes
    hash_cut: int | None = None  # the largest kept hash (None: the profile is not truncated)
    kind: str = field(default="categorical", init=False)

    @property
    def n(self) -> int:
        return self.rows - self.missing

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "categorical",
            "rows": self.rows,
            "missing": self.missing,
            "counts": dict(self.counts),
            "other": self.other,
            "singletons": self.singletons,
        }
        if self.hash_cut is not None:
            data["key_hashes"] = sorted(self.key_hashes)
            data["hash_cut"] = self.hash_cut
        return data

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CategoricalProfile:
        if not isinstance(d["counts"], Mapping):
            raise ValueError("counts must be an object of category: count")
        singles = d.get("singletons")
        profile = cls(
            rows=_count(d["rows"], "rows"),
            missing=_count(d["missing"], "missing"),
            counts={str(k): _count(v, f"counts[{k!r}]") for k, v in d["counts"].items()},
            other=_count(d["other"], "other"),
            singletons=None if singles is None else _count(singles, "singletons"),
            key_hashes=frozenset(int(h) for h in d.get("key_hashes") or ()),
            hash_cut=None if d.get("hash_cut") is None else int(d["hash_cut"]),
        )
        total = sum(profile.counts.values()) + profile.other
        if total != profile.n:
            raise ValueError(f"category counts add up to {total}, the profile says {profile.n}")
        return profile


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class DriftProfile:
    """Per-feature reference profiles plus, optionally, the model's prediction distribution."""

    columns: dict[str, ColumnProfile]
    prediction: ColumnProfile | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def numeric(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [n for n, c in self.columns.items() if c.kind == "categorical"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PROFILE_FORMAT_VERSION,
            "kind": "drift_profile",
            "metadata": dict(self.metadata),
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Any) -> DriftProfile:
        """Rebuild a profile from :meth:`to_dict`; a foreign or damaged file fails loudly."""
        if not isinstance(d, Mapping) or d.get("kind") != "drift_profile":
            raise ValueError(
                "not a drift profile (expected a JSON object with kind: drift_profile)"
            )
        if d.get("format_version") != PROFILE_FORMAT_VERSION:
            raise ValueError(
                f"unsupported drift profile format_version {d.get('format_version')!r} "
                f"(this version reads {PROFILE_FORMAT_VERSION})"
            )
        where = "the profile"
        try:
            columns = {}
            for name, column in d["columns"].items():
                where = f"column {name!r}"
                columns[str(name)] = _column_from_dict(column)
            where = "the prediction"
            prediction = d.get("prediction")
            prediction = None if prediction is None else _column_from_dict(prediction)
            return cls(
                columns=columns,
                prediction=prediction,
                metadata={str(k): str(v) for k, v in (d.get("metadata") or {}).items()},
            )
        except KeyError as exc:
            problem = f"{where}: key {exc.args[0]!r} is missing"
        except (TypeError, ValueError, AttributeError) as exc:
            problem = f"{where}: {exc}"
        raise DamagedProfileError(
            f"damaged drift profile: {problem}; refit it by retraining the model, or pass "
            "the reference data instead of the profile"
        )


class DamagedProfileError(ValueError):
    """A saved profile that contradicts itself: no verdict can be drawn from it."""


def _count(value: Any, what: str) -> int:
    """A whole, non-negative count (JSON may carry 3.0, never 2.5, -1, NaN or "x")."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is {value!r}, not a count")
    if not (math.isfinite(value) and value >= 0 and float(value).is_integer()):
        raise ValueError(f"{what} is {value!r}, not a whole non-negative count")
    return int(value)


def _counts(values: Any, what: str) -> np.ndarray:
    if not isinstance(values, list | tuple):
        raise ValueError(f"{what} must be a list of counts")
    return np.asarray([_count(v, f"{what}[{i}]") for i, v in enumerate(values)], dtype="int64")


def _column_from_dict(d: Mapping[str, Any]) -> ColumnProfile:
    if d["kind"] == "numeric":
        return NumericProfile.from_dict(d)
    if d["kind"] == "categorical":
        return CategoricalProfile.from_dict(d)
    raise ValueError(f"unknown column kind {d['kind']!r}")


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------


def fit_profile(
    reference: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    predictions: Any = None,
    metadata: Mapping[str, str] | None = None,
) -> DriftProfile:
    """Fit the profile of ``reference``'s features (and of the model's ``predictions``).

    ``predictions`` (array-like, optional) are the model's outputs on held-out data; numbers are
    profiled as numeric, anything else (class labels as text) as categorical.
    """
    columns: dict[str, ColumnProfile] = {}
    for name in numeric:
        columns[name] = fit_numeric(reference[name], name)
    for name in categorical:
        columns[name] = fit_categorical(reference[name])
    prediction = None
    if predictions is not None:
        series = pd.Series(np.asarray(predictions).reshape(len(predictions), -1)[:, -1])
        is_number = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        prediction = fit_numeric(series, "prediction") if is_number else fit_categorical(series)
    return DriftProfile(columns=columns, prediction=prediction, metadata=dict(metadata or {}))


def fit_numeric(series: pd.Series, name: str) -> NumericProfile:
    values, missing, nonfinite = numeric_values(series, name, "reference")
    n = values.size
    if n == 0:
        empty_i = np.zeros(0, dtype="int64")
        return NumericProfile(
            int(series.size), missing, nonfinite, math.nan, math.nan,
            np.zeros(0), empty_i, empty_i, empty_i, exact=True,
        )  # fmt: skip
    ordered = np.sort(values)
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # no second sort
    distinct, counts = ordered[starts], np.diff(np.r_[starts, n])
    if distinct.size <= EXACT_MAX_DISTINCT:
        grid, eq, exact = distinct, counts.astype("int64"), True
    else:
        levels = np.arange(GRID_LEVELS + 1) / GRID_LEVELS
        # inverted CDF: smallest value whose empirical CDF reaches the level
        index = np.clip(np.ceil(levels * n).astype("int64") - 1, 0, n - 1)
        grid = np.unique(ordered[index])
        eq = (
            np.searchsorted(ordered, grid, side="right") - np.searchsorted(ordered, grid, "left")
        ).astype("int64")
        exact = False
    le = np.searchsorted(ordered, grid, side="right").astype("int64")
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308-sized values: inf, not a warning
        mean, std = float(values.mean()), float(values.std())
    targets = np.arange(1, PSI_BINS) * n / PSI_BINS
    edges = np.unique(np.searchsorted(le, targets, side="left"))
    return NumericProfile(
        rows=int(series.size),
        missing=missing,
        nonfinite=nonfinite,
        mean=mean,
        std=std,
        grid=grid,
        le=le,
        eq=eq,
        bin_edges=edges.astype("int64"),
        exact=exact,
    )


def fit_categorical(series: pd.Series) -> CategoricalProfile:
    counts, missing = category_counts(series)
    return categorical_profile(int(series.size), missing, counts)


def categorical_profile(rows: int, missing: int, counts: Mapping[str, int]) -> CategoricalProfile:
    """The profile of a column's category counts (whole-frame and streaming fits alike)."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = dict(ordered[:MAX_CATEGORIES])
    other = sum(n for _, n in ordered[MAX_CATEGORIES:])
    singletons = sum(1 for n in counts.values() if n == 1)
    if len(counts) <= MAX_CATEGORIES:
        return CategoricalProfile(rows, missing, kept, other, singletons)
    hashes = np.sort(np.fromiter((key_hash(k) for k in counts), dtype=np.uint64))[:KEY_SAMPLE]
    return CategoricalProfile(
        rows, missing, kept, other, singletons,
        frozenset(int(h) for h in hashes), int(hashes[-1]),
    )  # fmt: skip


def key_hash(key: str) -> int:
    """A 64-bit hash of a category key, the same in every process (unlike Python's hash)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


# --------------------------------------------------------------------------------------------
# scan the current batch
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericScan:
    """Counts of the current batch on the profile's grid (same meaning as the profile's)."""

    rows: int
    missing: int
    nonfinite: int
    le: np.ndarray  # current count <= grid[i]
    lt: np.ndarray  # current count < grid[i]
    below: float  # sum of (grid[0] - x) over x < grid[0]
    above: float  # sum of (x - grid[-1]) over x > grid[-1]
    mean: float
    std: float
    values: np.ndarray | None  # the finite values, kept only for small batches (exact KS)

    @property
    def n(self) -> int:
        return self.rows - self.missing - self.nonfinite


#: Batches up to this size keep their values so the KS p-value can be scipy's exact one.
KEEP_VALUES_MAX = 10_000


def scan_numeric(profile: NumericProfile, series: pd.Series, name: str) -> NumericScan:
    """One pass over the current column: its counts at every grid point.

    A binary search per value would cost more than sorting the column. Instead each value is
    mapped to one of 65,536 uniform buckets by arithmetic; a lookup table gives the grid cell
    of buckets holding no grid point, one comparison settles buckets holding one, and only
    values in buckets holding several grid points (rare: the grid is spread by quantiles) are
    placed by ``np.searchsorted``. The result is exact, not an approximation.
    """
    values, missing, nonfinite = numeric_values(series, name, "current")
    n = values.size
    size = profile.grid.size
    if n == 0 or size == 0:
        zeros = np.zeros(size, dtype="int64")
        return NumericScan(
            int(series.size), missing, nonfinite, zeros, zeros, 0.0, 0.0, math.nan, math.nan,
            values if n <= KEEP_VALUES_MAX else None,
        )  # fmt: skip
    low, scale, first, point, crowded = profile._lut
    with np.errstate(over="ignore", invalid="ignore"):  # extreme values: inf, not a warning
        shifted = values - low
        mean_shift = float(shifted.sum()) / n
        # einsum, not np.dot: BLAS threads waking up on a busy machine cost more than the sum
        square = float(np.einsum("i,i->", shifted, shifted)) / n - mean_shift * mean_shift
    var = max(square, 0.0) if math.isfinite(square) else math.inf
    if scale == 0:  # one grid value, or a span too wide for a float: one crowded bucket
        buckets = np.zeros(n, dtype=np.intp)
    else:
        shifted *= scale
        np.clip(shifted, 0, _LUT_BUCKETS - 1, out=shifted)
        buckets = shifted.astype(np.intp)
    del shifted
    cell = first[buckets]  # number of grid points < x ...
    near = point[buckets]  # ... plus one if x is above the single grid point of its bucket
    cell += values > near  # NaN (no single point) compares False
    hits = values == near
    eq = np.bincount(cell[hits], minlength=size).astype("int64")
    refine = np.flatnonzero(crowded[buckets])
    del buckets, near, hits
    if refine.size:  # buckets holding several grid points: binary search
        picked = values[refine]
        found = np.searchsorted(profile.grid, picked, side="left")
        cell[refine] = found
        inside = found < size
        hit = np.zeros(found.size, dtype=bool)
        hit[inside] = profile.grid[found[inside]] == picked[inside]
        eq += np.bincount(found[hit], minlength=size)
    outside_low = values < profile.grid[0]
    below = float((profile.grid[0] - values[outside_low]).sum()) if outside_low.any() else 0.0
    outside_high = values > profile.grid[-1]
    above = float((values[outside_high] - profile.grid[-1]).sum()) if outside_high.any() else 0.0
    le = np.cumsum(np.bincount(cell, minlength=size + 1))[:size].astype("int64")
    return NumericScan(
        rows=int(series.size),
        missing=missing,
        nonfinite=nonfinite,
        le=le,
        lt=le - eq,
        below=below,
        above=above,
        mean=low + mean_shift,
        std=math.sqrt(var),
        values=values if n <= KEEP_VALUES_MAX else None,
    )


@dataclass(frozen=True)
class CategoricalScan:
    rows: int
    missing: int
    counts: dict[str, int]

    @property
    def n(self) -> int:
        return self.rows - self.missing


def scan_categorical(series: pd.Series) -> CategoricalScan:
    counts, missing = category_counts(series)
    return CategoricalScan(int(series.size), missing, counts)


# --------------------------------------------------------------------------------------------
# helpers shared by fit and scan
# --------------------------------------------------------------------------------------------


def numeric_values(series: pd.Series, feature: str, frame: str) -> tuple[np.ndarray, int, int]:
    """(finite float64 values, missing count, non-finite count) of a numeric column."""
    if pd.api.types.is_float_dtype(series.dtype) and isinstance(series.dtype, np.dtype):
        raw = series.to_numpy(dtype="float64", copy=False)
    else:
        try:
            numeric = pd.to_numeric(series, errors="raise")
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"numeric feature {feature!r} in the {frame} frame has non-numeric values "
                f"({exc}); declare it as categorical or clean it before drift detection"
            ) from None
        if pd.api.types.is_bool_dtype(numeric.dtype):
            numeric = numeric.astype("float64")
        raw = numeric.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(raw)
    if finite.all():
        return raw, 0, 0
    missing = int(np.isnan(raw).sum())
    values = raw[finite]
    return values, missing, int(raw.size - values.size - missing)


def category_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    """({value text: count}, missing count). Counting happens on the raw values (fast for
    categorical and Arrow strings); only the distinct keys are turned into text."""
    counts = series.value_counts(dropna=True, sort=False)
    merged: dict[str, int] = {}
    for key, n in zip(counts.index, counts.to_numpy(), strict=True):
        if n > 0:
            text = category_key(key)
            merged[text] = merged.get(text, 0) + int(n)
    missing = int(series.size - sum(merged.values()))
    return merged, missing


def category_key(value: Any) -> str:
    """Text of a category value; integral floats lose their ``.0`` so 1 and 1.0 match (a column
    with missing values is read as float)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _bucket(values: np.ndarray, low: float, scale: float) -> np.ndarray:
    if scale == 0:  # one grid value, or a span too wide for a float: one crowded bucket
        return np.zeros(values.shape, dtype=np.intp)
    with np.errstate(over="ignore"):
        scaled = (values - low) * scale
    np.clip(scaled, 0, _LUT_BUCKETS - 1, out=scaled)
    return scaled.astype(np.intp)


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _from_json_float(value: float | None) -> float:
    return math.nan if value is None else float(value)
