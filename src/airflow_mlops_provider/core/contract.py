"""Data contract → checks → results: the engine-neutral half of data validation.

A pipeline's `contract:` block (`ContractSpec`) becomes a flat list of `Check`s. An adapter
(`adapters/great_expectations.py`) runs them and returns a `ValidationResult`; this module
turns that into text for task logs and exceptions, a JSON-serialisable dict for XCom and the
audit log, and a self-contained HTML report.

One check per rule and column, in a fixed order (table checks first, then per column:
exists, type, not_null or null_fraction, between, finite, in_set, pattern, unique, freshness,
no_future), so a summary reads the same every run.
When a column is missing or has the wrong dtype, the checks that depend on it are reported
as *not run* instead of as extra failures: the summary names one failure per cause.

Pure Python: no pandas, Great Expectations or pydantic import. dtype compatibility is decided
on dtype *names* (`str(series.dtype)`), so it is testable here without pandas.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # core does not depend on spec at run time; any object of this shape works
    from airflow_mlops_provider.spec import ContractSpec

RULES = (
    "column_exists",
    "column_type",
    "not_null",
    "between",
    "finite",
    "in_set",
    "row_count",
    "no_extra_columns",
    "null_fraction",
    "pattern",
    "unique",
    "unique_key",
    "freshness",
    "no_future",
)
TABLE_RULES = frozenset({"row_count", "no_extra_columns", "unique_key"})
# Checks that only make sense once the column exists with a fitting dtype.
VALUE_RULES = frozenset(
    {"between", "finite", "in_set", "pattern", "unique", "freshness", "no_future"}
)
# Rules that carry the spec's severity; a column's existence and type are always errors.
_SPEC_SEVERITY = {"error": "error", "warn": "warning"}
SEVERITIES = ("error", "warning")
MAX_EXAMPLES = 5
_MAX_LISTED_VALUES = 10

# Contract type → the pandas dtype names (`str(dtype)`) that satisfy it. Covers numpy dtypes,
# pandas nullable extension dtypes, pandas 3's default string dtype ("str") and the
# NA-backed "string", and pyarrow-backed ArrowDtype names.
_INT = r"u?int(8|16|32|64)|U?Int(8|16|32|64)|u?int(8|16|32|64)\[pyarrow\]"
_DTYPE_PATTERNS: dict[str, re.Pattern[str]] = {
    "int": re.compile(rf"(?:{_INT})"),
    "float": re.compile(
        rf"(?:float(16|32|64)|Float(32|64)|(halffloat|float|double)\[pyarrow\]"
        rf"|{_INT})"
    ),
    "str": re.compile(r"(?:str|string|(large_)?string\[pyarrow\])"),
    "bool": re.compile(r"(?:bool|boolean|bool\[pyarrow\])"),
    # any unit, with or without a time zone
    "datetime": re.compile(
        r"(?:datetime64\[(s|ms|us|ns)(, .+)?\]"
        r"|timestamp\[(s|ms|us|ns)(, tz=.+)?\]\[pyarrow\])"
    ),
}
CONTRACT_TYPES = tuple(_DTYPE_PATTERNS)


def dtype_fits(contract_type: str, dtype_name: str) -> bool:
    """Whether a column whose dtype prints as `dtype_name` satisfies `contract_type`.

    `float` also accepts integer dtypes (an int column is a valid float input). `object`
    never fits here: its values have to be inspected one by one (the adapter does that).
    """
    try:
        pattern = _DTYPE_PATTERNS[contract_type]
    except KeyError:
        raise ValueError(
            f"unknown contract type {contract_type!r}; use one of {', '.join(CONTRACT_TYPES)}"
        ) from None
    return pattern.fullmatch(dtype_name) is not None


@dataclass(frozen=True)
class Check:
    """One rule on one column (or on the table when `column` is None)."""

    rule: str
    column: str | None
    params: dict = field(default_factory=dict, hash=False)  # JSON-serialisable
    severity: str = "error"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown check rule {self.rule!r}; use one of {', '.join(RULES)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be 'error' or 'warning', not {self.severity!r}")
        if (self.column is None) != (self.rule in TABLE_RULES):
            raise ValueError(
                f"rule {self.rule!r} "
                + (
                    "checks the table: column must be None"
                    if self.rule in TABLE_RULES
                    else "needs a column"
                )
            )

    def describe(self) -> str:
        """One readable line, e.g. "tenure_months between 0 and 72"."""
        col, p = self.column, self.params
        if self.rule == "column_exists":
            return f"column {col} exists"
        if self.rule == "column_type":
            return f"{col} is {p['type']}"
        if self.rule == "not_null":
            return f"{col} has no missing values"
        if self.rule == "between":
            return f"{col} {_range_text(p.get('min'), p.get('max'))}"
        if self.rule == "finite":
            return f"{col} has no infinite values"
        if self.rule == "in_set":
            return f"{col} in {_values_text(p['values'])}"
        if self.rule == "null_fraction":
            return f"{col} has at most {_percent(p['max_fraction'])} missing values"
        if self.rule == "pattern":
            return f"{col} matches {p['regex']}"
        if self.rule == "unique":
            return f"{col} values are unique"
        if self.rule == "unique_key":
            return f"({', '.join(p['columns'])}) is unique"
        if self.rule == "freshness":
            return f"latest {col} at most {_unit(p['max_age_hours'], 'hour')} old"
        if self.rule == "no_future":
            return f"{col} not later than now + {_unit(p['tolerance_minutes'], 'minute')}"
        if self.rule == "row_count":
            low, high = p.get("min"), p.get("max")
            if high is None:
                return f"at least {_num(low or 0)} row{'' if low == 1 else 's'}"
            return f"row count between {_num(low or 0)} and {_num(high)}"
        # no_extra_columns
        return f"no columns beyond the contract's {len(p['columns'])}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "column": self.column,
            "params": dict(self.params),
            "severity": self.severity,
            "description": self.describe(),
        }


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    `skipped` marks a check that was not run because a check it depends on failed (its column
    is missing or has the wrong dtype); it counts as not passed, but is not a failure cause of
    its own and `failures()` leaves it out. `observed` then says why it was not run.
    """

    check: Check
    success: bool
    observed: str | None
    unexpected_count: int = 0
    unexpected_examples: tuple = ()  # at most MAX_EXAMPLES, str of the values
    skipped: bool = False

    @property
    def status(self) -> str:
        return "passed" if self.success else "not run" if self.skipped else "failed"

    def line(self) -> str:
        """ "<check>: <observed> (e.g. a, b)" — one line for summaries."""
        text = self.check.describe()
        if self.observed:
            text += f": {self.observed}"
        if self.unexpected_examples:
            text += f" (e.g. {', '.join(self.unexpected_examples)})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.check.to_dict(),
            "status": self.status,
            "success": self.success,
            "observed": self.observed,
            "unexpected_count": self.unexpected_count,
            "unexpected_examples": list(self.unexpected_examples),
        }


@dataclass(frozen=True)
class ValidationResult:
    """`columns`: what each contract column looked like (core/column_stats.ColumnStats)."""

    results: tuple[CheckResult, ...]
    row_count: int
    columns: tuple[Any, ...] = ()

    @property
    def passed(self) -> bool:
        """No check of severity "error" failed (or was left unrun because of a failure)."""
        return not any(not r.success and r.check.severity == "error" for r in self.results)

    def failures(self) -> list[CheckResult]:
        """Failed checks that are causes (not the checks skipped because of them), any severity."""
        return [r for r in self.results if not r.success and not r.skipped]

    def skipped(self) -> list[CheckResult]:
        return [r for r in self.results if r.skipped]

    def summary(self) -> str:
        """Short multi-line text for task logs and exception messages."""
        total, rows = len(self.results), _rows_text(self.row_count)
        failures, skipped = self.failures(), self.skipped()
        errors = [r for r in failures if r.check.severity == "error"]
        warnings = [r for r in failures if r.check.severity != "error"]
        if not failures:
            return (
                f"all {total} checks passed on {rows}"
                if total != 1
                else f"the only check passed on {rows}"
            )
        if errors:
            head = f"{len(errors)} of {total} checks failed on {rows}"
            if skipped:
                head += f" ({len(skipped)} more not run because of them)"
        else:
            head = f"{total - len(warnings)} of {total} checks passed on {rows}"
        if warnings:
            head += f"; {len(warnings)} warning{'s' if len(warnings) > 1 else ''}"
        lines = [head + ":"]
        lines += [f"  - {r.line()}" for r in errors]
        lines += [f"  - [warning] {r.line()}" for r in warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: for XCom, the audit log and MLflow tags."""
        return {
            "passed": self.passed,
            "row_count": self.row_count,
            "checks": len(self.results),
            "failed": len(self.failures()),
            "not_run": len(self.skipped()),
            "summary": self.summary(),
            "results": [r.to_dict() for r in self.results],
            "columns": [c.to_dict() for c in self.columns],
        }


def checks_from_contract(
    contract: ContractSpec,
    *,
    skip_columns: Collection[str] = (),
    extra_columns: Collection[str] = (),
) -> list[Check]:
    """Every check a contract implies, in a stable order.

    `skip_columns` leaves out the checks of columns that are legitimately absent, e.g. the
    target when validating serving data. Such a column is still tolerated when present
    (it is not an "extra" column). `extra_columns` are tolerated besides the contract's, e.g.
    the request id that inference logs carry.
    """
    unknown = sorted(set(skip_columns) - set(contract.columns))
    if unknown:
        raise ValueError(
            f"skip_columns {unknown} are not in the contract; "
            f"contract columns: {', '.join(contract.columns)}"
        )
    checks = [Check("row_count", None, {"min": contract.min_rows, "max": contract.max_rows})]
    if not contract.allow_extra_columns:
        allowed = sorted({*contract.columns, *extra_columns})
        checks.append(Check("no_extra_columns", None, {"columns": allowed}))
    for key in getattr(contract, "unique_keys", ()):
        if not set(key.columns) & set(skip_columns):
            checks.append(Check("unique_key", None, {"columns": list(key.columns)}, _severity(key)))
    for name, rule in contract.columns.items():
        if name not in skip_columns:
            checks += _column_checks(name, rule)
            checks += _time_checks(contract, name, rule)
    return checks


def _column_checks(name: str, rule: Any) -> list[Check]:
    """The schema checks (always errors) and the data-quality checks of one column."""
    level = _severity(rule)
    checks = [Check("column_exists", name, {}), Check("column_type", name, {"type": rule.type})]
    if rule.required:
        checks.append(Check("not_null", name, {}, level))
    null_fraction = getattr(rule, "max_null_fraction", None)
    if null_fraction is not None:
        checks.append(Check("null_fraction", name, {"max_fraction": null_fraction}, level))
    if rule.min is not None or rule.max is not None:
        checks.append(Check("between", name, {"min": rule.min, "max": rule.max}, level))
    if rule.type == "float":
        checks.append(Check("finite", name, {}, level))
    if rule.allowed is not None:
        checks.append(Check("in_set", name, {"values": list(rule.allowed)}, level))
    if getattr(rule, "pattern", None) is not None:
        checks.append(Check("pattern", name, {"regex": rule.pattern}, level))
    if getattr(rule, "unique", False):
        checks.append(Check("unique", name, {}, level))
    return checks


def _time_checks(contract: ContractSpec, name: str, rule: Any) -> list[Check]:
    """Freshness and no-future checks, which are set on the contract but run per column.

    Their thresholds depend on "now", so the params hold the durations and the adapter turns
    them into timestamps when it runs: the same checks are valid on any day (and testable).
    """
    checks = []
    fresh = getattr(contract, "freshness", None)
    if fresh is not None and fresh.column == name:
        checks.append(
            Check("freshness", name, {"max_age_hours": fresh.max_age_hours}, _severity(fresh))
        )
    future = getattr(contract, "no_future_timestamps", None)
    in_scope = future is not None and (future.columns is None or name in future.columns)
    if in_scope and rule.type == "datetime":
        params = {"tolerance_minutes": future.tolerance_minutes}
        checks.append(Check("no_future", name, params, _severity(future)))
    return checks


def _severity(rule: Any) -> str:
    """The spec says error/warn (ODCS wording); checks say error/warning."""
    return _SPEC_SEVERITY[getattr(rule, "severity", "error")]


def skip_result(check: Check, reason: str) -> CheckResult:
    """A check left unrun because of another failure (see CheckResult.skipped)."""
    return CheckResult(check, success=False, observed=f"not run: {reason}", skipped=True)


def examples(values: Iterable[Any]) -> tuple[str, ...]:
    """At most MAX_EXAMPLES distinct, readable, JSON-serialisable examples (strings are quoted)."""
    out: list[str] = []
    for value in values:
        text = repr(value) if isinstance(value, str) else str(value)
        if text not in out:
            out.append(text)
            if len(out) == MAX_EXAMPLES:
                break
    return tuple(out)


def render_validation_html(result: ValidationResult, *, title: str, source: str) -> str:
    """A self-contained HTML report (no scripts, no external assets), failures first."""
    order = {"failed": 0, "not run": 1, "passed": 2}
    rows = sorted(result.results, key=lambda r: order[r.status])  # stable: keeps check order
    body = []
    for r in rows:
        status = r.status if r.check.severity == "error" or r.success else "warning"
        examples_text = ", ".join(r.unexpected_examples)
        body.append(
            f'<tr class="{status.replace(" ", "-")}"><td>{_e(status)}</td>'
            f"<td>{_e(r.check.column or '(table)')}</td><td>{_e(r.check.rule)}</td>"
            f"<td>{_e(r.check.describe())}</td><td>{_e(r.observed or '')}</td>"
            f"<td>{r.unexpected_count or ''}</td><td>{_e(examples_text)}</td></tr>"
        )
    verdict = "passed" if result.passed else "failed"
    summary = result.summary()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}}
table{{border-collapse:collapse;width:100%}}
th,td{{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}}
th{{background:#f4f4f4}} td.num{{text-align:right}}
pre{{background:#f8f8f8;padding:.5rem;white-space:pre-wrap}}
.verdict-passed{{color:#176f2c}} .verdict-failed{{color:#b00020}}
tr.failed td:first-child{{color:#b00020;font-weight:bold}}
tr.not-run td:first-child,tr.warning td:first-child{{color:#a15c00}}
tr.passed td:first-child{{color:#176f2c}}
</style></head><body>
<h1>{_e(title)}</h1>
<p>Source: <code>{_e(source)}</code> &middot; {_e(_rows_text(result.row_count))} &middot;
<strong class="verdict-{verdict}">{verdict}</strong></p>
<pre>{_e(summary)}</pre>
{_observed_table(result)}
<h2>Checks</h2>
<table><thead><tr><th>status</th><th>column</th><th>rule</th><th>check</th><th>observed</th>
<th>unexpected</th><th>examples</th></tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""


def _observed_table(result: ValidationResult) -> str:
    """Observed per column (null share, min, max, mean, distinct) beside its check verdicts."""
    if not result.columns:
        return ""
    failed: dict[str, int] = {}
    for r in result.failures():
        failed[r.check.column or ""] = failed.get(r.check.column or "", 0) + 1
    rows = []
    for c in result.columns:
        cells = [_percent(c.null_share), *(_observed(v) for v in (c.min, c.max, c.mean))]
        distinct = "" if c.distinct is None else f"{c.distinct:,}"
        cells.append(f"≥ {distinct}" if distinct and c.distinct_is_lower_bound else distinct)
        rows.append(
            f"<tr><td>{_e(c.column)}</td><td>{_e(c.dtype)}</td>"
            + "".join(f'<td class="num">{_e(v)}</td>' for v in cells)
            + f'<td class="num">{failed.get(c.column, 0) or ""}</td></tr>'
        )
    return (
        "<h2>Observed per column</h2>\n<table><thead><tr><th>column</th><th>type</th>"
        "<th>null share</th><th>min</th><th>max</th><th>mean</th><th>distinct</th>"
        "<th>failed checks</th></tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )


def _observed(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float | int) -> str:
    """72.0 → "72", 0.5 → "0.5"; no float noise in messages."""
    if (
        isinstance(value, float)
        and math.isfinite(value)
        and value.is_integer()
        and abs(value) < 1e15
    ):
        return str(int(value))
    return str(value)


def _unit(value: float, unit: str) -> str:
    """(1, "hour") → "1 hour"; (1.5, "hour") → "1.5 hours"."""
    return f"{_num(value)} {unit}{'' if value == 1 else 's'}"


def _percent(fraction: float) -> str:
    """0.05 → "5%"; 0.125 → "12.5%"."""
    return f"{_num(round(fraction * 100, 6))}%"


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {_num(low)} and {_num(high)}"
    if low is not None:
        return f">= {_num(low)}"
    return f"<= {_num(high)}"  # type: ignore[arg-type]


def _values_text(values: list) -> str:
    shown = ", ".join(repr(v) for v in values[:_MAX_LISTED_VALUES])
    more = len(values) - _MAX_LISTED_VALUES
    return "{" + shown + (f", ... (+{more} more)" if more > 0 else "") + "}"


def _rows_text(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"
