"""Run contract checks on a pandas DataFrame with Great Expectations 1.x.

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
* row_count        → ExpectTableRowCountToBeBetween
* no_extra_columns → ExpectTableColumnsToMatchSet(exact_match=True) over the contract columns
                     *present in the frame*. exact_match=False is the wrong way round (it
                     fails on missing columns and allows extras); exact_match=True over all
                     contract columns would report every missing column a second time.
* null_fraction    → ExpectColumnValuesToNotBeNull(mostly=1 - max_fraction)
* pattern          → ExpectColumnValuesToMatchRegex (re.search semantics: anchor with ^...$)
* unique           → ExpectColumnValuesToBeUnique (missing values are not duplicates)
* unique_key       → ExpectCompoundColumnsToBeUnique over the key's columns
* freshness        → ExpectColumnMaxToBeBetween(min_value=now - max_age)
* no_future        → ExpectColumnMaxToBeBetween(max_value=now + tolerance). Not the per-value
                     ExpectColumnValuesToBeBetween: on datetimes it costs ~1 s per 200k rows
                     against ~0.01 s. GX decides; when it fails, pandas counts the future
                     values and picks examples for the report (`_future_details`).
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
import logging
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.contract import (
    MAX_EXAMPLES,
    VALUE_RULES,
    Check,
    CheckResult,
    ValidationResult,
    dtype_fits,
    examples,
    skip_result,
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


def validate_frame(
    frame: pd.DataFrame, checks: Sequence[Check], *, now: dt.datetime | None = None
) -> ValidationResult:
    """Run every check on `frame` in one Great Expectations validation.

    `now` (aware, or naive meaning UTC) anchors freshness and no_future; default: the clock.
    """
    _quiet_gx()
    import great_expectations as gx

    # GX pins this logger to INFO; it would log "Created temporary directory ... for ephemeral
    # docs site" on every call (the directory is removed at once, nothing is written).
    context_logger = logging.getLogger("great_expectations.data_context.types.base")
    if context_logger.level == logging.INFO:
        context_logger.setLevel(logging.WARNING)

    checks = list(checks)
    dtypes: dict[str, str] = {}
    for name, dtype in frame.dtypes.items():
        dtypes.setdefault(str(name), str(dtype))

    outcomes: dict[int, CheckResult] = {}
    expectations = []
    wrong_dtype = _columns_with_wrong_dtype(checks, dtypes)
    clock = _utc(now)
    for index, check in enumerate(checks):
        reason = _reason_not_to_run(check, dtypes, wrong_dtype)
        if reason is not None:
            outcomes[index] = skip_result(check, reason)
        else:
            expectations.append(_expectation(check, index, dtypes, _now_for(frame, check, clock)))

    if expectations:
        context = gx.get_context(mode="ephemeral")
        _silence_progress_bars(context)
        batch = (
            context.data_sources.add_pandas("mlops_frame")
            .add_dataframe_asset("frame")
            .add_batch_definition_whole_dataframe("whole_frame")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        # One suite handed over whole and validated on the batch directly: registering it
        # (suites.add, a ValidationDefinition) serialises every expectation and result into
        # the ephemeral stores, a fixed ~0.3 s per call that nothing here reads back
        # (bench/BENCHMARKS.md, "Data validation").
        suite = gx.ExpectationSuite(name="contract", expectations=expectations)
        run = batch.validate(suite, result_format=_RESULT_FORMAT)
        for gx_result in run.results:
            index = int(gx_result.expectation_config.meta[_META_KEY])
            outcomes[index] = _check_result(checks[index], gx_result, len(frame), dtypes)
            if checks[index].rule == "no_future" and not outcomes[index].success:
                outcomes[index] = _future_details(frame, outcomes[index], gx_result)

    # Fail closed should GX ever return fewer results than it was given expectations.
    results = tuple(
        outcomes.get(i) or CheckResult(check, False, "no result from GX")
        for i, check in enumerate(checks)
    )
    from airflow_mlops_provider.core.column_stats import describe_columns

    columns = list(dict.fromkeys(c.column for c in checks if c.column))
    return ValidationResult(
        results=results, row_count=len(frame), columns=describe_columns(frame, columns)
    )


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


def _utc(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)


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
    if check.rule == "row_count":
        return gxe.ExpectTableRowCountToBeBetween(
            min_value=params.get("min"), max_value=params.get("max"), meta=meta
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
        return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=params["regex"], meta=meta)
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


def _check_result(check: Check, gx_result: Any, rows: int, dtypes: dict[str, str]) -> CheckResult:
    error = _exception_message(gx_result)
    if error is not None:
        return CheckResult(check, success=False, observed=f"could not be checked: {error}")
    success = bool(gx_result.success)
    result = gx_result.result or {}
    count = int(result.get("unexpected_count") or 0)
    found = examples(result.get("partial_unexpected_list") or ())
    rule = check.rule
    if rule == "column_exists":
        return CheckResult(check, success, "present" if success else "column missing")
    if rule == "column_type":
        observed = f"dtype {dtypes.get(check.column, '?')}"
        if count:  # object column, values checked one by one
            observed += f", {count} of {_rows(rows)} not {check.params['type']}"
        return CheckResult(check, success, observed, count, found)
    if rule == "not_null":
        return CheckResult(check, success, f"{count} of {_rows(rows)} missing", count)
    if rule == "null_fraction":
        share = f" ({count / rows:.1%})" if rows else ""
        return CheckResult(check, success, f"{count} of {_rows(rows)} missing{share}", count)
    if rule == "freshness":
        return CheckResult(check, success, _freshness_text(result, gx_result))
    if rule == "no_future":  # the count and examples come from _future_details on failure
        return CheckResult(check, success, f"latest {result.get('observed_value')}")
    if rule in VALUE_RULES or rule == "unique_key":
        what = {
            "between": "out of range",
            "finite": "infinite",
            "in_set": "not in the allowed set",
            "pattern": "not matching",
            "unique": "duplicated",
            "unique_key": "with a duplicated key",
        }[rule]
        if rule == "unique_key":
            found = _key_examples(result.get("partial_unexpected_list") or ())
        return CheckResult(check, success, f"{count} of {_rows(rows)} {what}", count, found)
    if rule == "row_count":
        return CheckResult(check, success, _rows(int(result.get("observed_value", rows))))
    # no_extra_columns
    mismatched = (result.get("details") or {}).get("mismatched") or {}
    extra = [str(c) for c in mismatched.get("unexpected", ())]
    observed = f"extra columns: {', '.join(extra)}" if extra else "no extra columns"
    return CheckResult(check, success, observed, len(extra))


def _future_details(frame: pd.DataFrame, outcome: CheckResult, gx_result: Any) -> CheckResult:
    """Count and show the values after now + tolerance (GX only checked the maximum)."""
    import pandas as pd

    if outcome.observed and outcome.observed.startswith("could not be checked"):
        return outcome
    if pd.isna((gx_result.result or {}).get("observed_value")):  # no values: none in the future
        return CheckResult(outcome.check, True, "no values to check")
    column = frame[outcome.check.column]
    latest = pd.Timestamp(gx_result.expectation_config.meta["latest"])
    future = column[column > latest]
    text = f"{len(future)} of {_rows(len(frame))} in the future"
    return CheckResult(outcome.check, False, text, len(future), examples(future.head(50)))


def _freshness_text(result: dict, gx_result: Any) -> str:
    import pandas as pd

    latest = result.get("observed_value")
    if latest is None or pd.isna(latest):
        return "no values to date the data by"
    now = gx_result.expectation_config.meta.get("now")
    try:
        hours = (pd.Timestamp(now) - pd.Timestamp(latest)) / pd.Timedelta(hours=1)
        return f"latest {latest} ({hours:.1f} hours old)"
    except (TypeError, ValueError):  # pragma: no cover - GX returned something unexpected
        return f"latest {latest}"


def _key_examples(values: Sequence[Any]) -> tuple[str, ...]:
    """[{'a': 1, 'b': 'x'}, ...] → ("(1, 'x')", ...): distinct duplicated keys, compactly."""
    out: list[str] = []
    for value in values:
        items = value.values() if isinstance(value, dict) else [value]
        text = "(" + ", ".join(map(_one, items)) + ")"
        if text not in out:
            out.append(text)
        if len(out) == MAX_EXAMPLES:
            break
    return tuple(out)


def _one(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"
