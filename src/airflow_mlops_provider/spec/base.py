"""What every block of the pipeline YAML shares: the strict base model, errors placed at the key
they are about, schedules and durations.

Every model forbids unknown keys, so a typo is an error with a suggestion rather than a silently
ignored setting. Defaults live in the models' fields and only there; `airflow-mlops schema`
exports them, with each key's description, as JSON Schema. No Airflow import: the spec
validates in CI and pre-commit without Airflow.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Scalar = str | int | float | bool
Loc = tuple[str | int, ...]
RULE_ERROR = "rule"  # the pydantic error type of every rule below and in rules.py


class StrictModel(BaseModel):
    """Base for every block: unknown keys are errors, values are not coerced across types,
    and `.inf`/`.nan` are refused (an infinite timeout overflows when the DAG is built)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def problem(loc: Loc, message: str, value: Any = None) -> InitErrorDetails:
    """One error at `loc` (relative to the model that reports it; pydantic prefixes the path
    of the block), so the loader can name the file and line of that very key. `value` is
    shown after the message as "found ..." unless None; never pass a secret here."""
    return InitErrorDetails(type=PydanticCustomError(RULE_ERROR, message), loc=loc, input=value)


def report(model: str, problems: list[InitErrorDetails]) -> None:
    """Raise every problem at once (a person fixes them in one pass), or return."""
    if problems:
        raise ValidationError.from_exception_data(model, problems)


def fail(model: str, loc: Loc, message: str, value: Any = None) -> NoReturn:
    report(model, [problem(loc, message, value)])
    raise AssertionError("unreachable")  # report() raised


# -- schedules ----------------------------------------------------------------------------

SCHEDULE_PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
Schedule = Annotated[str | None, Field(description="Airflow preset (@daily) or cron, or null")]


def check_schedule(value: str | None) -> str | None:
    """Accept Airflow presets and 5-field cron; reject anything else at validation time."""
    if value is None:
        return None
    if value.startswith("@"):
        if value not in SCHEDULE_PRESETS:
            raise ValueError(f"unknown preset {value!r}; use one of {', '.join(SCHEDULE_PRESETS)}")
        return value
    from croniter import CroniterError, croniter  # light, and already an Airflow dependency

    example = "(minute hour day-of-month month day-of-week, e.g. '0 3 * * *')"
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a 5-field cron expression {example}")
    try:  # valid syntax that never fires ('0 0 31 2 *') would break the scheduler instead
        croniter(value).get_next()
    except CroniterError:
        raise ValueError(f"{value!r} never fires; check the day and month fields") from None
    return value


# -- durations (the Argo Rollouts spelling) -------------------------------------------------

DURATION_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
Duration = Annotated[
    str | int | float,
    Field(description="seconds, or a number with unit ms/s/m/h: 500ms, 10s, 5m, 1h"),
]


def duration_seconds(value: str | int | float) -> float:
    """'10s' / '5m' / 30 → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 10s, 5m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = DURATION_PATTERN.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 5m, 1h or 500ms")
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def check_duration(value: Any) -> Any:
    if value is not None:
        duration_seconds(value)
    return value


# -- shared field vocabulary ------------------------------------------------------------------

FileFormat = Literal["parquet", "csv"]
Severity = Literal["error", "warn"]
SEVERITY_HELP = "error: a failure fails the gate; warn: it is reported but the gate passes"
