"""`contract:` — the data contract every batch must meet before anything trains on it.

A strict subset of an ODCS v3 schema (`contract: {file: ...}` reads one, see spec/odcs.py).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.core.patterns import re2_problem
from airflow_mlops_provider.spec.base import (
    SEVERITY_HELP,
    Scalar,
    Severity,
    StrictModel,
    problem,
    report,
)

ColumnType = Literal["int", "float", "str", "bool", "datetime"]
NUMERIC_TYPES = ("int", "float")
MAX_PATTERN_CHARS = 1_000  # a column's format fits; longer is a mistake or an attack
MAX_PATTERN_NESTING = 50  # groups inside groups; Python's compiler recurses once per level
YAML_READ_AS = (
    "YAML reads unquoted yes/no/on/off/true/false as booleans and ~, null or nothing as "
    "null: quote it, e.g. 'no'"
)


class ColumnRule(StrictModel):
    """One column of the contract (a strict subset of an ODCS v3 schema property).

    `severity` applies to the column's data-quality rules (nulls, range, allowed values,
    pattern, uniqueness); contract-level rules (keys, freshness, no future) carry their own.
    That the column exists with its type is always an error: the pipeline's code depends on
    it, a warning would only move the failure downstream.
    """

    type: ColumnType = Field(description="int, float, str, bool or datetime")
    required: bool = Field(True, description="no missing values allowed")
    min: float | None = Field(None, description="smallest allowed value (int and float columns)")
    max: float | None = Field(None, description="largest allowed value (int and float columns)")
    allowed: list[Scalar | None] | None = Field(None, description="the only values allowed")
    unique: bool = Field(False, description="no value appears twice (missing values aside)")
    pattern: str | None = Field(
        None,
        description="regular expression every value must match (str columns; RE2 syntax, "
        "searched: anchor with ^...$)",
    )
    max_null_fraction: float | None = Field(
        None,
        ge=0,
        le=1,
        description="share of missing values tolerated (0.05: 5%); implies required: false",
    )
    severity: Severity = Field("error", description=SEVERITY_HELP)

    @model_validator(mode="before")
    @classmethod
    def _null_fraction_implies_optional(cls, data: Any) -> Any:
        """`max_null_fraction` tolerates missing values, so `required` defaults to false then."""
        if isinstance(data, dict) and data.get("max_null_fraction") is not None:
            if data.get("required") is True:
                report(
                    "ColumnRule",
                    [
                        problem(
                            ("required",),
                            "required: true allows no missing values, max_null_fraction "
                            "allows some; keep one of them",
                        )
                    ],
                )
            data = {**data, "required": False}
        return data

    @model_validator(mode="after")
    def _bounds_make_sense(self) -> ColumnRule:
        report("ColumnRule", self._problems())
        return self

    def _problems(self) -> list:
        found = [*self._allowed_problems(), *self._pattern_problems()]
        if self.min is not None and self.max is not None and self.min > self.max:
            found.append(problem(("min",), f"min ({self.min}) is greater than max ({self.max})"))
        if self.type not in NUMERIC_TYPES:
            found += [
                problem((key,), f"{key} applies to int and float columns, not {self.type}")
                for key in ("min", "max")
                if getattr(self, key) is not None
            ]
        return found

    def _pattern_problems(self) -> list:
        if self.pattern is None:
            return []
        if self.type != "str":
            return [problem(("pattern",), f"pattern applies to str columns, not {self.type}")]
        if len(self.pattern) > MAX_PATTERN_CHARS:
            return [
                problem(
                    ("pattern",),
                    f"a pattern of {len(self.pattern)} characters; keep it under "
                    f"{MAX_PATTERN_CHARS}",
                )
            ]
        too_deep = [problem(("pattern",), "pattern nests too deeply to compile; write it flatter")]
        if _group_depth(self.pattern) > MAX_PATTERN_NESTING:
            return too_deep
        try:
            found = re2_problem(self.pattern)
        except (RecursionError, OverflowError, MemoryError):
            return too_deep
        return [] if found is None else [problem(("pattern",), f"pattern {found}")]

    def _allowed_problems(self) -> list:
        """Values that can never match a value of this column's type: YAML's booleans and
        nulls in a str column, quoted numbers in a number column."""
        if self.allowed is None:
            return []
        if not self.allowed:
            return [
                problem(
                    ("allowed",),
                    "an empty allowed list rejects every value; list the values, or remove allowed",
                )
            ]
        return [
            problem(("allowed", i), message)
            for i, value in enumerate(self.allowed)
            if (message := _misfit(self.type, value))
        ]


class FreshnessRule(StrictModel):
    """The newest value of a datetime column is at most `max_age_hours` old (naive = UTC)."""

    column: str = Field(description="a datetime column of the contract")
    max_age_hours: float = Field(gt=0, description="how old the newest value may be")
    severity: Severity = Field("error", description=SEVERITY_HELP)


class NoFutureTimestamps(StrictModel):
    """No value of the datetime columns lies after now + tolerance (clock skew, unit bugs)."""

    columns: list[str] | None = Field(
        None, description="datetime columns to check; null: every datetime column"
    )
    tolerance_minutes: float = Field(5, ge=0, description="clock skew tolerated")
    severity: Severity = Field("error", description=SEVERITY_HELP)


class UniqueKey(StrictModel):
    """A (compound) key: no combination of these columns' values appears twice."""

    columns: list[str] = Field(min_length=2, description="the key's columns (two or more)")
    severity: Severity = Field("error", description=SEVERITY_HELP)


class ContractSpec(StrictModel):
    """The data contract; `contract: {file: ...}` loads the same from an ODCS v3 file."""

    columns: dict[str, ColumnRule] = Field(
        min_length=1, description="every column the batch must have: {name: {type, ...}}"
    )
    min_rows: int = Field(1, ge=0, description="fewer rows fail the gate")
    max_rows: int | None = Field(None, ge=1, description="more rows fail the gate; null: no limit")
    allow_extra_columns: bool = Field(
        False, description="columns the contract does not name are allowed"
    )
    unique_keys: list[UniqueKey] = Field(
        default_factory=list, description="compound keys; one column: use unique: true on it"
    )
    freshness: FreshnessRule | None = Field(None, description="how old the newest row may be")
    no_future_timestamps: NoFutureTimestamps | None = Field(
        None, description="true (defaults) or settings; off unless given"
    )

    @field_validator(
        "no_future_timestamps",
        mode="before",
        json_schema_input_type=NoFutureTimestamps | bool | None,
    )
    @classmethod
    def _true_means_defaults(cls, value: Any) -> Any:
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @model_validator(mode="after")
    def _rules_name_contract_columns(self) -> ContractSpec:
        found = []
        if self.max_rows is not None and self.min_rows > self.max_rows:
            found.append(
                problem(("min_rows",), f"min_rows ({self.min_rows}) is greater than max_rows")
            )
        names = list(self.columns)
        times = sorted(n for n, c in self.columns.items() if c.type == "datetime")
        for i, key in enumerate(self.unique_keys):
            found += _unknown(key.columns, ("unique_keys", i, "columns"), names, "")
        if self.freshness is not None:
            found += _unknown([self.freshness.column], ("freshness", "column"), times, "datetime")
        if self.no_future_timestamps and self.no_future_timestamps.columns is not None:
            loc = ("no_future_timestamps", "columns")
            found += _unknown(self.no_future_timestamps.columns, loc, times, "datetime")
        report("ContractSpec", found)
        return self


def _group_depth(pattern: str) -> int:
    """How deep `(` groups nest, escapes and character classes aside."""
    depth = deepest = 0
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
    return deepest


def _misfit(column_type: str, value: Any) -> str | None:
    """Why `value` can never be a value of a `column_type` column, or None."""
    if value is None:
        return (
            "YAML read this as null (~, null or an empty item): a missing value is not an "
            "allowed value (see required, max_null_fraction); quote it if it is text"
        )
    if column_type == "str":
        if isinstance(value, bool):
            return f"YAML read this as {str(value).lower()}, not as text; {YAML_READ_AS}"
        if not isinstance(value, str):
            return f"{value!r} is a number, not text: quote it as written (e.g. '{value}')"
    elif column_type in NUMERIC_TYPES:
        article = "an" if column_type == "int" else "a"
        if isinstance(value, str) and re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value):
            return (
                f"{value!r} is quoted text; {article} {column_type} column's values are "
                f"numbers: write {value} without quotes"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number; {article} {column_type} column's values are numbers"
        if column_type == "int" and not float(value).is_integer():
            return f"{value!r} is not a whole number; an int column cannot hold it"
    elif column_type == "bool" and not isinstance(value, bool):
        return f"{value!r} is not true or false"
    return None


def _unknown(names: list[str], loc: tuple, allowed: list[str], kind: str) -> list:
    unknown = [n for n in names if n not in allowed]
    if not unknown:
        return []
    of_type = f" of type {kind}" if kind else ""
    return [
        problem(
            loc,
            f"{unknown} must name contract columns{of_type}; "
            f"use {', '.join(allowed) or '(none declared)'}",
        )
    ]
