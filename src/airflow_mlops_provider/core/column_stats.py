"""What a batch looked like, per column: the observed numbers shown next to the contract's
verdicts in the validation report (null share, min, max, mean, distinct values).

A batch validated in chunks (adapters/validation.py) merges its chunks' stats with
`merge_stats`: null share, min, max and mean are exact; distinct counts do not add up, so a
merged text column shows the largest chunk's count as a lower bound (`distinct_is_lower_bound`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MAX_TEXT = 40  # a min/max shown for text columns is cut to this many characters


@dataclass(frozen=True)
class ColumnStats:
    column: str
    dtype: str
    null_share: float
    min: Any = None
    max: Any = None
    mean: float | None = None
    distinct: int | None = None
    rows: int = 0  # rows described (the weights when chunks merge)
    distinct_is_lower_bound: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe_columns(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[ColumnStats, ...]:
    """Stats of the named columns the frame has (in that order); others are left out."""
    import pandas as pd

    found = []
    for name in columns:
        if name not in frame.columns:
            continue
        series = frame[name]
        if isinstance(series, pd.DataFrame):  # a duplicated column name: the first one
            series = series.iloc[:, 0]
        nulls = float(series.isna().mean()) if len(series) else 0.0
        values = series.dropna()
        stats = ColumnStats(name, str(series.dtype), nulls, rows=len(series))
        if values.empty:
            found.append(stats)
        elif pd.api.types.is_bool_dtype(series):
            found.append(_with(stats, mean=float(values.mean()), distinct=int(values.nunique())))
        elif pd.api.types.is_numeric_dtype(series):
            found.append(
                _with(stats, min=_plain(values.min()), max=_plain(values.max()),
                      mean=_finite(float(values.mean())))
            )  # fmt: skip
        elif pd.api.types.is_datetime64_any_dtype(series):
            found.append(_with(stats, min=str(values.min()), max=str(values.max())))
        else:
            text = values.astype(str)
            found.append(
                _with(stats, min=text.min()[:MAX_TEXT], max=text.max()[:MAX_TEXT],
                      distinct=int(text.nunique()))
            )  # fmt: skip
    return tuple(found)


def merge_stats(parts: Sequence[Sequence[ColumnStats]]) -> tuple[ColumnStats, ...]:
    """The stats of the chunks taken together (module docstring), columns in first-seen order."""
    by_column: dict[str, list[ColumnStats]] = {}
    for part in parts:
        for stats in part:
            by_column.setdefault(stats.column, []).append(stats)
    return tuple(_merge_one(chunks) for chunks in by_column.values())


def _merge_one(chunks: list[ColumnStats]) -> ColumnStats:
    rows = sum(c.rows for c in chunks)
    filled = [(c, c.rows * (1 - c.null_share)) for c in chunks]
    valued = [c for c, n in filled if n > 0]
    means = [(c.mean, n) for c, n in filled if n > 0 and c.mean is not None]
    weight = sum(n for _, n in means)
    distinct = [c.distinct for c in valued if c.distinct is not None]
    return ColumnStats(
        column=chunks[0].column,
        dtype=chunks[0].dtype,
        null_share=sum(c.null_share * c.rows for c in chunks) / rows if rows else 0.0,
        min=min((c.min for c in valued if c.min is not None), default=None),
        max=max((c.max for c in valued if c.max is not None), default=None),
        mean=_finite(sum(m * n for m, n in means) / weight) if weight else None,
        distinct=max(distinct) if distinct else None,
        rows=rows,
        distinct_is_lower_bound=len(distinct) > 1 or any(c.distinct_is_lower_bound for c in chunks),
    )


def _with(stats: ColumnStats, **values: Any) -> ColumnStats:
    return ColumnStats(**{**asdict(stats), **values})


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (JSON-serialisable); NaN/inf as None."""
    number = value.item() if hasattr(value, "item") else value
    return _finite(number) if isinstance(number, float) else number


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
