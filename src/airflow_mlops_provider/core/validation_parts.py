"""Mergeable partial results of contract checks: what a slice of a batch says about each check.

Validating a batch in slices (row groups streamed one after another, or partitions validated
by mapped tasks) gives one `ValidationPart` per slice; `merge` combines them in batch order
and `finish` turns the merged part into the same `ValidationResult` — verdicts, counts,
observed texts and examples — that validating the whole batch at once gives. A part is plain
JSON (`to_dict` / `from_dict`), so it can travel through XCom or storage.

What a slice keeps per check (`CheckPart`):

* ``count`` and ``head``: unexpected (or missing) values counted, and the first `HEAD` of them
  in row order, as text; merged by adding counts and concatenating heads in slice order, so
  the examples are those of the whole batch (the first distinct ones among its first `HEAD`).
* ``success``: the slice's verdict for rules that hold when they hold in every slice (value
  rules, column existence and type); merged with AND. Rules on totals (row count, share of
  missing values) and on maxima (freshness, no future) are decided in `finish`.
* ``extra``: rule-specific JSON — the dtype, the extra columns, the latest timestamp and the
  bounds of the time rules.
* ``state``: ``ran``, ``skipped`` (a column missing or of the wrong dtype; ``reason`` says why)
  or ``error`` (the engine could not evaluate it; ``reason``) — an error in one slice is an
  error of the batch.

Uniqueness cannot be decided per slice; `unique` and `unique_key` are resolved across slices
(core/uniqueness.py) and handed to `finish` as `resolved` (count, head).

Pure Python; pandas is imported only to compare timestamps in `finish`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_mlops_provider.core.column_stats import ColumnStats, merge_stats
from airflow_mlops_provider.core.contract import (
    MAX_EXAMPLES,
    Check,
    CheckResult,
    ValidationResult,
    skip_result,
)

__all__ = ["HEAD", "CheckPart", "ValidationPart", "as_utc", "finish", "merge", "render_value"]

#: Unexpected values kept per check and slice (GX's partial list has the same length).
HEAD = 20
#: Future values kept for the no_future examples.
FUTURE_HEAD = 50
_STATES = ("ran", "skipped", "error")
_DESCRIPTIONS = {
    "between": "out of range",
    "finite": "infinite",
    "in_set": "not in the allowed set",
    "pattern": "not matching",
    "unique": "duplicated",
    "unique_key": "with a duplicated key",
}


@dataclass(frozen=True)
class CheckPart:
    state: str = "ran"
    success: bool = True
    count: int = 0
    head: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "success": self.success,
            "count": self.count,
            "head": list(self.head),
            "extra": dict(self.extra),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckPart:
        if d["state"] not in _STATES:
            raise ValueError(f"unknown check state {d['state']!r}")
        return cls(
            state=str(d["state"]),
            success=bool(d["success"]),
            count=int(d["count"]),
            head=tuple(str(v) for v in d["head"]),
            extra=dict(d.get("extra") or {}),
            reason=d.get("reason"),
        )


@dataclass(frozen=True)
class ValidationPart:
    """One slice's (or several merged slices') partial results, aligned with the check list.

    `order` places the slice in the batch (merge sorts by it); `spills` are the uniqueness
    spill folders of the slice, per check index (see core/uniqueness.py)."""

    rows: int
    checks: tuple[CheckPart, ...]
    order: tuple[int, ...] = (0,)
    spills: Mapping[str, list[str]] = field(default_factory=dict)
    columns: tuple[ColumnStats, ...] = ()  # what the contract's columns looked like

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "validation_part",
            "rows": self.rows,
            "order": list(self.order),
            "checks": [c.to_dict() for c in self.checks],
            "spills": {k: list(v) for k, v in self.spills.items()},
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, d: Any) -> ValidationPart:
        if not isinstance(d, Mapping) or d.get("kind") != "validation_part":
            raise ValueError("not a validation part (expected kind: validation_part)")
        return cls(
            rows=int(d["rows"]),
            checks=tuple(CheckPart.from_dict(c) for c in d["checks"]),
            order=tuple(int(x) for x in d["order"]),
            spills={str(k): [str(x) for x in v] for k, v in (d.get("spills") or {}).items()},
            columns=tuple(ColumnStats(**c) for c in d.get("columns") or ()),
        )


def as_utc(now: dt.datetime | None) -> dt.datetime:
    """`now` as an aware datetime (naive means UTC); None: the clock. Every slice of a batch
    must be judged against the same now."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


def render_value(value: Any) -> str:
    """How an unexpected value is shown (strings quoted), as `contract.examples` does."""
    return repr(value) if isinstance(value, str) else str(value)


def merge(parts: Sequence[ValidationPart]) -> ValidationPart:
    """Combine slices (any order: they are sorted by `order` first)."""
    if not parts:
        raise ValueError("no validation parts to merge")
    ordered = sorted(parts, key=lambda p: p.order)
    widths = {len(p.checks) for p in ordered}
    if len(widths) != 1:
        raise ValueError(f"validation parts cover different check lists ({sorted(widths)})")
    checks = tuple(
        _merge_check([p.checks[i] for p in ordered]) for i in range(len(ordered[0].checks))
    )
    spills: dict[str, list[str]] = {}
    for part in ordered:
        for key, folders in part.spills.items():
            spills.setdefault(key, []).extend(folders)
    return ValidationPart(
        rows=sum(p.rows for p in ordered),
        checks=checks,
        order=ordered[0].order,
        spills=spills,
        columns=merge_stats([p.columns for p in ordered]),
    )


def _merge_check(parts: Sequence[CheckPart]) -> CheckPart:
    for state in ("error", "skipped"):
        found = next((p for p in parts if p.state == state), None)
        if found is not None:
            return found
    head: list[str] = []
    for part in parts:
        head.extend(part.head[: max(0, _head_limit(part) - len(head))])
    return CheckPart(
        state="ran",
        success=all(p.success for p in parts),
        count=sum(p.count for p in parts),
        head=tuple(head),
        extra=_merge_extra([p.extra for p in parts]),
    )


def _head_limit(part: CheckPart) -> int:
    return FUTURE_HEAD if "latest" in part.extra else HEAD


def _merge_extra(extras: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    merged = dict(extras[0])
    if "dtype" in merged:  # an int column is Int64 wherever it has missing values
        names = {e["dtype"] for e in extras}
        merged["dtype"] = "Int64" if names == {"int64", "Int64"} else extras[0]["dtype"]
        if len(names) > 1 and names != {"int64", "Int64"}:
            raise ValueError(f"slices of one batch disagree on a column's dtype: {sorted(names)}")
    if "max" in merged:
        merged["max"] = _latest([e.get("max") for e in extras])
    return merged


def _latest(values: Sequence[str | None]) -> str | None:
    import pandas as pd

    present = [pd.Timestamp(v) for v in values if v is not None]
    return max(present).isoformat() if present else None


# --------------------------------------------------------------------------------------------
# finish
# --------------------------------------------------------------------------------------------


def finish(
    checks: Sequence[Check],
    part: ValidationPart,
    resolved: Mapping[int, tuple[int, Sequence[str]]] | None = None,
) -> ValidationResult:
    """The batch's result. `resolved` holds (count, head) of uniqueness checks decided across
    slices; a uniqueness check that ran neither in a slice nor in `resolved` fails closed."""
    resolved = dict(resolved or {})
    results = []
    for index, (check, check_part) in enumerate(zip(checks, part.checks, strict=True)):
        if index in resolved and check_part.state == "ran":
            count, head = resolved[index]
            check_part = replace(check_part, success=count == 0, count=count, head=tuple(head))
        results.append(_result(check, check_part, part.rows))
    return ValidationResult(results=tuple(results), row_count=part.rows, columns=part.columns)


def _result(check: Check, part: CheckPart, rows: int) -> CheckResult:
    if part.state == "skipped":
        return skip_result(check, part.reason or "")
    if part.state == "error":
        return CheckResult(check, False, f"could not be checked: {part.reason}")
    rule, count, found = check.rule, part.count, _distinct(part.head)
    if rule == "column_exists":
        return CheckResult(check, part.success, "present" if part.success else "column missing")
    if rule == "column_type":
        observed = f"dtype {part.extra.get('dtype', '?')}"
        if count:  # object column, values checked one by one
            observed += f", {count} of {_rows(rows)} not {check.params['type']}"
        return CheckResult(check, part.success, observed, count, found)
    if rule == "not_null":
        return CheckResult(check, part.success, f"{count} of {_rows(rows)} missing", count)
    if rule == "null_fraction":
        return _null_fraction(check, count, rows)
    if rule == "freshness":
        return _freshness(check, part.extra)
    if rule == "no_future":
        return _no_future(check, part, rows)
    if rule in _DESCRIPTIONS:
        text = f"{count} of {_rows(rows)} {_DESCRIPTIONS[rule]}"
        return CheckResult(check, part.success, text, count, found)
    if rule == "row_count":
        low, high = check.params.get("min"), check.params.get("max")
        success = (low is None or rows >= low) and (high is None or rows <= high)
        return CheckResult(check, success, _rows(rows))
    extra = [str(c) for c in part.extra.get("extra_columns", ())]  # no_extra_columns
    observed = f"extra columns: {', '.join(extra)}" if extra else "no extra columns"
    return CheckResult(check, part.success, observed, len(extra))


def _null_fraction(check: Check, count: int, rows: int) -> CheckResult:
    # GX's rule for ExpectColumnValuesToNotBeNull with mostly (the same mostly as the adapter)
    mostly = max(0.0, 1.0 - float(check.params["max_fraction"]) - 1e-9)
    success = rows == 0 or (rows - count) / rows >= mostly
    share = f" ({count / rows:.1%})" if rows else ""
    return CheckResult(check, success, f"{count} of {_rows(rows)} missing{share}", count)


def _freshness(check: Check, extra: Mapping[str, Any]) -> CheckResult:
    import pandas as pd

    latest = extra.get("max")
    if latest is None:
        return CheckResult(check, False, "no values to date the data by")
    latest_ts, now = pd.Timestamp(latest), pd.Timestamp(extra["now"])
    hours = (now - latest_ts) / pd.Timedelta(hours=1)
    success = bool(latest_ts >= pd.Timestamp(extra["bound"]))
    return CheckResult(check, success, f"latest {latest_ts} ({hours:.1f} hours old)")


def _no_future(check: Check, part: CheckPart, rows: int) -> CheckResult:
    import pandas as pd

    latest = part.extra.get("max")
    if latest is None:
        return CheckResult(check, True, "no values to check")
    if pd.Timestamp(latest) <= pd.Timestamp(part.extra["latest"]):
        return CheckResult(check, True, f"latest {pd.Timestamp(latest)}")
    text = f"{part.count} of {_rows(rows)} in the future"
    return CheckResult(check, False, text, part.count, _distinct(part.head))


def _distinct(head: Sequence[str]) -> tuple[str, ...]:
    """The first MAX_EXAMPLES distinct texts (as `contract.examples` picks them)."""
    return tuple(dict.fromkeys(head))[:MAX_EXAMPLES]


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"
