"""Run contract checks on a pandas DataFrame with Great Expectations 1.x.

`validate_frame` validates a whole batch; `frame_part` validates one slice of a batch and
returns a mergeable part (core/validation_parts.py), so a batch can be validated row group by
row group (adapters/validation.py) with the same verdicts, counts and examples.

One ephemeral context per call (nothing is written to disk, no project folder), a pandas
datasource with one dataframe asset and a whole-dataframe batch definition, every expectation
in ONE suite and ONE validation run. Each expectation carries its check's index in `meta`, so
results map back to checks whatever order GX returns them in (it does not keep suite order).

How each rule is expressed:

* column_exists    → ExpectColumnToExist
* column_type      → ExpectColumnDtypeToFitContract, a small subclass of
                     ExpectColumnValuesToBeInTypeList (see `_dtype_expectation`). GX 1.24
                     compares dtype *objects* with `==`, and no type name it accepts equals
                     pandas 3's default string dtype (`str`, StringDtype with NaN as missing
                     value) or a tz-aware datetime64 — a str column could never pass. The
                     subclass compares dtype names instead (`core.contract.dtype_fits`).
                     Object-dtype columns keep GX's own per-value isinstance check.
* not_null         → ExpectColumnValuesToNotBeNull (NaN, None, NaT and pd.NA all count)
* between          → ExpectColumnValuesToBeBetween
* finite           → ExpectColumnValuesToNotBeInSet([inf, -inf]): GX leaves missing values
                     out of value checks, so NaN is the business of not_null and this catches
                     exactly the infinities, vectorised (`isin`) for every float dtype.
* in_set           → ExpectColumnValuesToBeInSet
* row_count        → the counted rows (validation_parts.finish): a slice's row count says
                     nothing about the batch's
* no_extra_columns → ExpectTableColumnsToMatchSet(exact_match=True) over the contract columns
                     *present in the frame*. exact_match=False is the wrong way round (it
                     fails on missing columns and allows extras); exact_match=True over all
                     contract columns would report every missing column a second time.
* null_fraction    → ExpectColumnValuesToNotBeNull(mostly=1 - max_fraction)
* pattern          → ExpectColumnValuesToMatchRe2, a subclass of ExpectColumnValuesToMatchRegex
                     whose metric matches with RE2 (pyarrow.compute, linear time) instead of
                     GX's pandas `str.contains` (Python's backtracking `re`, which a crafted
                     value can keep busy for hours); search semantics: anchor with ^...$
                     (`core.patterns`: the YAML check refuses what RE2 cannot run)
* unique           → ExpectColumnValuesToBeUnique (missing values are not duplicates); across
                     slices: core/uniqueness.py, exact, with the same counts and examples
* unique_key       → ExpectCompoundColumnsToBeUnique over the key's columns (rows whose key
                     is all missing are left out; a missing value equals another); across
                     slices: core/uniqueness.py
* freshness        → ExpectColumnMaxToBeBetween(min_value=now - max_age)
* no_future        → ExpectColumnMaxToBeBetween(max_value=now + tolerance). Not the per-value
                     ExpectColumnValuesToBeBetween: on datetimes it costs ~1 s per 200k rows
                     against ~0.01 s. The latest value decides; pandas counts the future
                     values and picks examples for the report (`_time_part`).
                     "now" is an argument of validate_frame (default: the wall clock, UTC);
                     naive datetime columns are read as UTC.

A missing column gets one failure (column_exists); its other checks are reported as not run.
Likewise a column whose dtype does not fit has its value checks (between, finite, in_set,
pattern, unique, freshness, no_future) reported as not run, so an int column arriving as str
fails once, on column_type; a compound key with a missing column is not run either.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import math
import os
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.column_stats import describe_columns
from airflow_mlops_provider.core.contract import (
    VALUE_RULES,
    Check,
    ValidationResult,
    dtype_fits,
)
from airflow_mlops_provider.core.validation_parts import (
    FUTURE_HEAD,
    HEAD,
    CheckPart,
    ValidationPart,
    as_utc,
    finish,
    render_value,
)

if TYPE_CHECKING:
    import pandas as pd

# Names GX's per-value isinstance check understands, used for object-dtype columns only.
_OBJECT_TYPE_NAMES = {
    "int": ["int"],  # numpy int64 and Python int
    "float": ["float", "int"],  # a float column may hold ints
    "str": ["str"],
    "bool": ["bool"],
    "datetime": ["Timestamp", "datetime64"],
}
# BASIC: counts and a partial list, without SUMMARY's extra value counts. The partial list
# repeats values; 20 of them give up to MAX_EXAMPLES distinct examples in most cases.
_RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 20}
_META_KEY = "mlops_check"
_DATASOURCE = "mlops_frame"


def validate_frame(
    frame: pd.DataFrame, checks: Sequence[Check], *, now: dt.datetime | None = None
) -> ValidationResult:
    """Run every check on `frame` in one Great Expectations validation (the whole batch).

    `now` (aware, or naive meaning UTC) anchors freshness and no_future; default: the clock.
    """
    checks = list(checks)
    return finish(checks, frame_part(frame, checks, now=as_utc(now)))


def frame_part(
    frame: pd.DataFrame,
    checks: Sequence[Check],
    *,
    now: dt.datetime,
    deferred: Collection[str] = (),
    order: tuple[int, ...] = (0,),
) -> ValidationPart:
    """What `frame` — the whole batch or one slice of it — says about each check, from one GX
    validation (core/validation_parts.py merges slices). Checks whose rule is in `deferred`
    (uniqueness, decided across slices) are not sent to GX; they are marked as run, unless a
    missing column or wrong dtype skips them. `now` must be aware (UTC)."""
    checks = list(checks)
    _quiet_gx()  # before `_expectation` imports GX (its import logs ~200 INFO lines)
    dtypes: dict[str, str] = {}
    for name, dtype in frame.dtypes.items():
        dtypes.setdefault(str(name), str(dtype))
    parts: dict[int, CheckPart] = {}
    expectations = []
    wrong_dtype = _columns_with_wrong_dtype(checks, dtypes)
    for index, check in enumerate(checks):
        reason = _reason_not_to_run(check, dtypes, wrong_dtype)
        if reason is not None:
            parts[index] = CheckPart(state="skipped", success=False, reason=reason)
        elif check.rule in deferred or check.rule == "row_count":  # decided on totals
            parts[index] = CheckPart()
        else:
            expectations.append(_expectation(check, index, dtypes, _now_for(frame, check, now)))
    for gx_result in _run_suite(frame, expectations):
        index = int(gx_result.expectation_config.meta[_META_KEY])
        parts[index] = _check_part(checks[index], gx_result, frame, dtypes, now)
    # Fail closed should GX ever return fewer results than it was given expectations.
    missing = CheckPart(state="error", success=False, reason="no result from GX")
    columns = list(dict.fromkeys(c.column for c in checks if c.column))
    return ValidationPart(
        rows=len(frame),
        checks=tuple(parts.get(i, missing) for i in range(len(checks))),
        order=order,
        columns=describe_columns(frame, columns),
    )


def _run_suite(frame: pd.DataFrame, expectations: list[Any]) -> list[Any]:
    """One ephemeral GX validation of `frame` with every expectation in one suite."""
    if not expectations:
        return []
    _quiet_gx()
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every in-memory frame under 1 GB (pandas hash of every value) for batch
    # markers nothing here reads: ~1.7 s per 500k-row slice, a third of a slice's validation
    # (bench/BENCHMARKS.md, "Scale"). The threshold is GX's own knob for skipping it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    # GX pins this logger to INFO; it would log "Created temporary directory ... for ephemeral
    # docs site" on every call (the directory is removed at once, nothing is written).
    context_logger = logging.getLogger("great_expectations.data_context.types.base")
    if context_logger.level == logging.INFO:
        context_logger.setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    _silence_progress_bars(context)
    batch = (
        context.data_sources.add_pandas(_DATASOURCE)
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole_frame")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    # One suite handed over whole and validated on the batch directly: registering it
    # (suites.add, a ValidationDefinition) serialises every expectation and result into
    # the ephemeral stores, a fixed ~0.3 s per call that nothing here reads back
    # (bench/BENCHMARKS.md, "Data validation").
    suite = gx.ExpectationSuite(name="contract", expectations=expectations)
    results = list(batch.validate(suite, result_format=_RESULT_FORMAT).results)
    # The context stays GX's "current project" until the next one, holding the frame and the
    # metrics' intermediates in reference cycles: slice after slice, a streamed 10M-row batch
    # grew from 0.7 to 1.7 GiB. Dropping the datasource and collecting keeps it flat.
    context.data_sources.delete(_DATASOURCE)
    gc.collect()
    return results


def _reason_not_to_run(
    check: Check, dtypes: dict[str, str], wrong_dtype: dict[str, str]
) -> str | None:
    """Why a check depends on a failure (missing column, wrong dtype), or None: run it."""
    columns = check.params["columns"] if check.rule == "unique_key" else [check.column]
    missing = [c for c in columns if c is not None and c not in dtypes]
    if missing and check.rule != "column_exists":
        if len(missing) == 1:
            return f"column {missing[0]} is missing"
        return f"columns {', '.join(missing)} are missing"
    column = check.column
    if check.rule in VALUE_RULES and column in wrong_dtype:
        return f"{column} has dtype {dtypes[column]}, not {wrong_dtype[column]}"
    return None


def _now_for(frame: pd.DataFrame, check: Check, now: dt.datetime) -> Any:
    """`now` comparable with the check's column: in its time zone, or naive UTC if it has none.

    GX compares the bound with the column's values, and pandas refuses to compare naive with
    aware timestamps; other checks do not use it.
    """
    if check.rule not in ("freshness", "no_future"):
        return None
    import pandas as pd

    stamp = pd.Timestamp(now)
    try:
        zone = frame[check.column].dt.tz
    except (AttributeError, TypeError):  # object column: values decide; treat as naive
        zone = None
    return stamp.tz_convert(zone) if zone is not None else stamp.tz_convert("UTC").tz_localize(None)


def _columns_with_wrong_dtype(checks: list[Check], dtypes: dict[str, str]) -> dict[str, str]:
    """Present columns whose dtype surely breaks their column_type check → the wanted type.

    Object columns are left to GX's per-value check (their dtype says nothing).
    """
    wrong = {}
    for check in checks:
        if check.rule != "column_type" or check.column not in dtypes:
            continue
        dtype, wanted = dtypes[check.column], check.params["type"]
        if dtype != "object" and not dtype_fits(wanted, dtype):
            wrong[check.column] = wanted
    return wrong


def _expectation(check: Check, index: int, dtypes: dict[str, str], now: Any = None) -> Any:
    import great_expectations.expectations as gxe

    meta = {_META_KEY: index}
    column, params = check.column, check.params
    if check.rule == "column_exists":
        return gxe.ExpectColumnToExist(column=column, meta=meta)
    if check.rule == "column_type":
        wanted = params["type"]
        return _dtype_expectation()(
            column=column,
            type_list=_OBJECT_TYPE_NAMES[wanted],
            meta={**meta, "contract_type": wanted},
        )
    if check.rule == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=column, meta=meta)
    if check.rule == "between":
        return gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=params.get("min"), max_value=params.get("max"), meta=meta
        )
    if check.rule == "finite":
        return gxe.ExpectColumnValuesToNotBeInSet(
            column=column, meta=meta, value_set=[math.inf, -math.inf]
        )
    if check.rule == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=list(params["values"]), meta=meta
        )
    if check.rule == "no_extra_columns":
        present = [c for c in params["columns"] if c in dtypes]
        return gxe.ExpectTableColumnsToMatchSet(column_set=present, exact_match=True, meta=meta)
    return _quality_expectation(check, meta, now)


def _quality_expectation(check: Check, meta: dict, now: Any) -> Any:
    """The rules beyond type, range and set: nulls share, regex, uniqueness, time."""
    import great_expectations.expectations as gxe

    column, params = check.column, check.params
    if check.rule == "null_fraction":
        # A hair of slack so that exactly max_fraction passes despite float rounding (1 - 0.3).
        mostly = max(0.0, 1.0 - float(params["max_fraction"]) - 1e-9)
        return gxe.ExpectColumnValuesToNotBeNull(column=column, mostly=mostly, meta=meta)
    if check.rule == "pattern":
        return _re2_expectation()(column=column, regex=params["regex"], meta=meta)
    if check.rule == "unique":
        return gxe.ExpectColumnValuesToBeUnique(column=column, meta=meta)
    if check.rule == "unique_key":
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(params["columns"]), meta=meta)
    if check.rule == "freshness":
        oldest = now - dt.timedelta(hours=float(params["max_age_hours"]))
        return gxe.ExpectColumnMaxToBeBetween(
            column=column, min_value=oldest.to_pydatetime(), meta={**meta, "now": str(now)}
        )
    if check.rule == "no_future":
        latest = now + dt.timedelta(minutes=float(params["tolerance_minutes"]))
        return gxe.ExpectColumnMaxToBeBetween(
            column=column, max_value=latest.to_pydatetime(), meta={**meta, "latest": str(latest)}
        )
    raise ValueError(f"no Great Expectations mapping for rule {check.rule!r}")


@functools.cache
def _dtype_expectation() -> type:
    """ExpectColumnValuesToBeInTypeList that matches pandas dtypes by name (built once)."""
    import great_expectations.expectations as gxe

    class ExpectColumnDtypeToFitContract(gxe.ExpectColumnValuesToBeInTypeList):
        """The column's dtype satisfies a contract type (int, float, str, bool, datetime).

        Only the non-object path is replaced; object columns still go through GX's
        per-value isinstance check with `type_list`.
        """

        def _validate_pandas(self, actual_column_type: Any, expected_types_list: Any) -> dict:
            name = str(actual_column_type)
            return {
                "success": dtype_fits(self.meta["contract_type"], name),
                "result": {"observed_value": name},
            }

    return ExpectColumnDtypeToFitContract


@functools.cache
def _re2_expectation() -> type:
    """ExpectColumnValuesToMatchRegex evaluated with RE2 (its metric registered once)."""
    import great_expectations.expectations as gxe
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.metrics.map_metric_provider import (
        ColumnMapMetricProvider,
        column_condition_partial,
    )

    class ColumnValuesMatchRe2(ColumnMapMetricProvider):
        condition_metric_name = "column_values.match_re2"
        condition_value_keys = ("regex",)

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column: Any, regex: str, **kwargs: Any) -> Any:
            import pandas as pd
            import pyarrow as pa

            from airflow_mlops_provider.core.patterns import matches

            # GX's own metric matches column.astype(str); pandas 3's str dtype hands its
            # Arrow array over without copying the values into Python objects
            text = pa.array(column.astype(str))
            found = matches(text, regex).to_numpy(zero_copy_only=False)
            return pd.Series(found, index=column.index, dtype=bool)

    class ExpectColumnValuesToMatchRe2(gxe.ExpectColumnValuesToMatchRegex):
        """Each value contains a match of `regex`, found by RE2 in linear time."""

        map_metric = "column_values.match_re2"

    del ColumnValuesMatchRe2  # registered with GX on definition; nothing else refers to it
    return ExpectColumnValuesToMatchRe2


def _quiet_gx() -> None:
    """No analytics, and no INFO chatter in task logs (GX logs ~200 INFO lines on import and
    one per context). Runs before the import; an explicitly configured level is respected."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:
        gx_logger.setLevel(logging.WARNING)


def _silence_progress_bars(context: Any) -> None:
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
    except (ImportError, AttributeError):  # pragma: no cover - older/newer GX layouts
        pass


def _exception_message(gx_result: Any) -> str | None:
    """GX 1.x puts exceptions either at the top level or per metric configuration."""
    info = gx_result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _check_part(
    check: Check, gx_result: Any, frame: pd.DataFrame, dtypes: dict[str, str], now: dt.datetime
) -> CheckPart:
    """One GX result as a mergeable part (the texts are made in validation_parts.finish)."""
    error = _exception_message(gx_result)
    if error is not None:
        return CheckPart(state="error", success=False, reason=error)
    result = gx_result.result or {}
    raw = list(result.get("partial_unexpected_list") or ())[:HEAD]
    head = _key_texts(raw) if check.rule == "unique_key" else tuple(map(render_value, raw))
    part = CheckPart(
        success=bool(gx_result.success),
        count=int(result.get("unexpected_count") or 0),
        head=head,
    )
    if check.rule == "column_type":
        return replace(part, extra={"dtype": dtypes.get(str(check.column), "?")})
    if check.rule == "no_extra_columns":
        mismatched = (result.get("details") or {}).get("mismatched") or {}
        extra = [str(c) for c in mismatched.get("unexpected", ())]
        return replace(part, extra={"extra_columns": extra})
    if check.rule in ("freshness", "no_future"):
        return _time_part(check, result.get("observed_value"), frame, now)
    return part


def _time_part(check: Check, observed: Any, frame: pd.DataFrame, now: dt.datetime) -> CheckPart:
    """The column's latest value and the bounds; for no_future also the values past the bound
    (counted on every slice: a slice that passes may hold none, the batch may fail)."""
    import pandas as pd

    stamp = _now_for(frame, check, now)
    latest = None if observed is None or pd.isna(observed) else pd.Timestamp(observed).isoformat()
    if check.rule == "freshness":
        bound = stamp - dt.timedelta(hours=float(check.params["max_age_hours"]))
        extra = {"max": latest, "now": stamp.isoformat(), "bound": bound.isoformat()}
        return CheckPart(extra=extra)
    bound = stamp + dt.timedelta(minutes=float(check.params["tolerance_minutes"]))
    column = frame[check.column]
    future = column[column > bound]
    head = tuple(render_value(v) for v in future.head(FUTURE_HEAD))
    extra = {"max": latest, "latest": bound.isoformat()}
    return CheckPart(count=len(future), head=head, extra=extra)


def _key_texts(values: Sequence[Any]) -> tuple[str, ...]:
    """[{'a': 1, 'b': 'x'}, ...] → ("(1, 'x')", ...), in GX's row order."""
    return tuple(
        "(" + ", ".join(map(render_value, v.values() if isinstance(v, dict) else [v])) + ")"
        for v in values
    )
