"""Column stats of a batch validated in chunks equal those of the whole batch (null share,
min, max, mean exactly; distinct as a lower bound, said so)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core.column_stats import describe_columns, merge_stats


def test_chunks_merge_to_the_whole_batch() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(1000) < 0.1, np.nan, rng.normal(5, 2, 1000)),
            "plan": rng.choice(["a", "b", "c", None], 1000),
        }
    )
    whole = {c.column: c for c in describe_columns(frame, ["x", "plan"])}
    chunks = [describe_columns(frame.iloc[i : i + 300], ["x", "plan"]) for i in range(0, 1000, 300)]
    merged = {c.column: c for c in merge_stats(chunks)}
    for name in ("x", "plan"):
        assert merged[name].rows == 1000
        assert merged[name].null_share == pytest.approx(whole[name].null_share)
        assert merged[name].min == whole[name].min
        assert merged[name].max == whole[name].max
    assert merged["x"].mean == pytest.approx(whole["x"].mean)
    assert merged["plan"].distinct == whole["plan"].distinct == 3
    assert merged["plan"].distinct_is_lower_bound and not whole["plan"].distinct_is_lower_bound


def test_a_chunk_of_nulls_only_does_not_move_min_max_or_mean() -> None:
    full = describe_columns(pd.DataFrame({"x": [1.0, 3.0]}), ["x"])
    empty = describe_columns(pd.DataFrame({"x": [np.nan, np.nan]}), ["x"])
    (merged,) = merge_stats([full, empty])
    assert (merged.min, merged.max, merged.mean, merged.null_share) == (1.0, 3.0, 2.0, 0.5)
