"""Equality of a streamed or fanned-out validation result with the whole-batch one: verdicts,
counts, texts and examples exactly; the observed column stats as core/column_stats.merge_stats
promises (null share and mean up to float rounding, min and max exactly, a distinct count
that is a lower bound when chunks merged)."""

from __future__ import annotations

from typing import Any

import pytest

EXACT = ("column", "dtype", "min", "max", "rows")


def assert_same_validation(got: Any, whole: Any) -> None:
    ours, theirs = got.to_dict(), whole.to_dict()
    our_columns, their_columns = ours.pop("columns"), theirs.pop("columns")
    assert ours == theirs
    assert [c["column"] for c in our_columns] == [c["column"] for c in their_columns]
    for mine, reference in zip(our_columns, their_columns, strict=True):
        mine_exact, their_exact = ({k: c[k] for k in EXACT} for c in (mine, reference))
        assert mine_exact == their_exact, (mine_exact, their_exact)
        assert mine["null_share"] == pytest.approx(reference["null_share"], abs=1e-12)
        if reference["mean"] is None:
            assert mine["mean"] is None
        else:
            assert mine["mean"] == pytest.approx(reference["mean"], rel=1e-9)
        if reference["distinct"] is None:
            assert mine["distinct"] is None
        elif mine["distinct_is_lower_bound"]:
            assert 0 < mine["distinct"] <= reference["distinct"]
        else:
            assert mine["distinct"] == reference["distinct"]
