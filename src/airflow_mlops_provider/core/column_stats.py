"""What a batch looked like, per column: the observed numbers shown next to the contract's
verdicts in the validation report (null share, min, max, mean, distinct values)."""

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
        stats = ColumnStats(name, str(series.dtype), nulls)
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


def _with(stats: ColumnStats, **values: Any) -> ColumnStats:
    return ColumnStats(**{**asdict(stats), **values})


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (JSON-serialisable); NaN/inf as None."""
    number = value.item() if hasattr(value, "item") else value
    return _finite(number) if isinstance(number, float) else number


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
