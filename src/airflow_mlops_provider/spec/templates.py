"""Templated YAML values rendered at validate time, the way a run will render them.

`data.source`, `monitoring.source` and the other templated keys are rendered by Airflow when a
task runs. A template that cannot render (an undefined variable, an unclosed `{{`), that tries
to leave Jinja's sandbox, or that reads a connection or a variable (whose value would then be
shown in the UI's rendered-template view and the logs) would only fail — or leak — at run
time. So each one is rendered here, for every run type of the DAG that renders it, with the
variables such a run has (RUN_VARIABLES, the one list to extend when runs gain a variable),
in a sandbox configured like Airflow's own (`airflow.sdk.definitions._internal.templater.
create_template_env`: SandboxedEnvironment, StrictUndefined, the `do` extension, Airflow's
date filters, `_private` attributes allowed and `__dunder__` ones refused; a test renders the
same cases with Airflow's environment). Airflow is not imported: `airflow-mlops validate`
stays light.

Only a variable that exists for some run types but not for others (today: the logical-date
variables other than `ds`/`ds_nodash`, which asset-triggered runs lack in Airflow 3) is a
warning rather than an error. Tasks that render data paths set `batch`, `ds` and `ds_nodash`
from the run's batch in every run type (operators/run_identity.py), so those never warn.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlops_provider.spec.pipeline import PipelineSpec

Loc = tuple[str | int, ...]
SCHEDULED, MANUAL, ASSET_TRIGGERED = "scheduled", "manual", "asset_triggered"

# What a task's template context holds in Airflow 3.3 (Task SDK, `get_template_context`).
EVERY_RUN = (
    "dag", "dag_run", "run_id", "task", "task_instance", "ti", "params", "macros", "inlets",
    "outlets", "inlet_events", "outlet_events", "triggering_asset_events", "map_index_template",
    "task_instance_key_str", "task_reschedule_count", "prev_start_date_success",
    "prev_end_date_success", "partition_key", "partition_date", "task_state_store",
    "asset_state_store", "var", "conn",
)  # fmt: skip
WITH_LOGICAL_DATE = (
    "logical_date", "ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz",
    "data_interval_start", "data_interval_end", "prev_data_interval_start_success",
    "prev_data_interval_end_success",
)  # fmt: skip
# The variables of each run type: the one list to extend. A manual run is taken to have a
# logical date, as the UI's trigger form sets one.
RUN_VARIABLES: dict[str, tuple[str, ...]] = {
    SCHEDULED: EVERY_RUN + WITH_LOGICAL_DATE,
    MANUAL: EVERY_RUN + WITH_LOGICAL_DATE,
    ASSET_TRIGGERED: EVERY_RUN,
}
COMMON_VARIABLES = (
    "variables a run has include ds, ds_nodash, batch, ts, logical_date, data_interval_start, "
    "data_interval_end, run_id, dag_run, params and macros (docs/pipelines.md#templates)"
)
SECRET_SOURCES = ("conn", "var")  # rendered values show in the UI: never in a template
JINJA_GLOBALS = ("range", "dict", "namespace", "cycler", "joiner")
MAX_TEMPLATE_CHARS = 2_000
MAX_NUMBER = 10_000_000  # arithmetic in a path template never needs more
RENDER_SECONDS = 0.25  # a path template renders in microseconds; this is a runaway loop


@dataclass(frozen=True)
class Templated:
    """A YAML key Airflow renders, the DAG whose tasks render it, and variables the task
    itself adds (collect_window renders monitoring.source once per day, as `ds`)."""

    loc: Loc
    dag: str
    added: tuple[str, ...] = ()


# What the run's batch adds before a task renders (operators/run_identity.BatchTemplated).
RUN_BATCH = ("batch", "ds", "ds_nodash")
TEMPLATED = (
    Templated(("data", "source"), "training", added=RUN_BATCH),
    Templated(("canary", "replay", "source"), "training", added=RUN_BATCH),
    Templated(("canary", "inference_logs", "source"), "training", added=RUN_BATCH),
    Templated(("monitoring", "source"), "monitoring", added=("ds", "ds_nodash")),
    Templated(("monitoring", "labels"), "monitoring", added=RUN_BATCH),
)


@dataclass(frozen=True)
class TemplateIssue:
    loc: Loc
    message: str
    warning: bool = False


def check_templates(spec: PipelineSpec) -> list[TemplateIssue]:
    """Errors and warnings for every templated value of `spec`."""
    issues = []
    for field in TEMPLATED:
        value = _value_at(spec, field.loc)
        if isinstance(value, str) and ("{{" in value or "{%" in value or "{#" in value):
            issues += check_one(value, field.loc, _run_types(spec, field.dag), field.added)
    return issues


@functools.lru_cache(maxsize=1024)  # a folder of pipelines shares a few source patterns
def check_one(
    source: str, loc: Loc, run_types: tuple[str, ...], added: tuple[str, ...] = ()
) -> tuple[TemplateIssue, ...]:
    """Render `source` as each run type would; the problems, placed at `loc`."""
    return tuple(_check_one(source, loc, run_types, added))


def _check_one(
    source: str, loc: Loc, run_types: tuple[str, ...], added: tuple[str, ...]
) -> list[TemplateIssue]:
    if len(source) > MAX_TEMPLATE_CHARS:
        message = f"a template of {len(source)} characters; keep it under {MAX_TEMPLATE_CHARS}"
        return [TemplateIssue(loc, message)]
    import jinja2
    from jinja2 import meta

    env = checking_environment()
    try:
        tree = env.parse(source)
        names = meta.find_undeclared_variables(tree)
        template = env.from_string(tree)  # compiled once, rendered per run type
    except jinja2.TemplateSyntaxError as exc:
        message = (
            f"template syntax error: {exc.message} (line {exc.lineno} of the value); "
            "close every {{ with }} and every {% with %}"
        )
        return [TemplateIssue(loc, message)]
    secret = sorted(names & set(SECRET_SOURCES))
    if secret:
        message = (
            f"a template may not read Airflow {' or '.join(secret)}: the rendered value is "
            "shown in the UI and the logs; name a connection under connections.* instead"
        )
        return [TemplateIssue(loc, message)]
    return _render_each(template, loc, run_types, names, added)


def _render_each(
    template: Any, loc: Loc, run_types: tuple[str, ...], names: set[str], added: tuple
) -> list[TemplateIssue]:
    failures: dict[str, str] = {}
    for run_type in run_types:
        available = {*RUN_VARIABLES[run_type], *added, *JINJA_GLOBALS}
        missing = sorted(names - available)
        if missing:
            failures[run_type] = (
                f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} undefined"
            )
            continue
        try:
            rendered = _render(template, _context(run_type, added))
        except _TooCostly as exc:  # as costly for every run type: do not pay it again
            return [TemplateIssue(loc, f"the template cannot render: {exc}")]
        except Exception as exc:  # whatever the template raises is the user's error to see
            failures[run_type] = _describe(exc)
            continue
        problem = _rendered_problem(rendered)
        if problem:
            return [TemplateIssue(loc, problem)]
    if not failures:
        return []
    reason = next(iter(failures.values()))
    if len(failures) == len(run_types):
        listed = f"; {COMMON_VARIABLES}" if reason.endswith("undefined") else ""
        return [TemplateIssue(loc, f"the template cannot render: {reason}{listed}")]
    kinds = " and ".join(k.replace("_", "-") for k in failures)
    why = ""
    if names & set(WITH_LOGICAL_DATE) and ASSET_TRIGGERED in failures:
        why = (
            "; Airflow 3 gives asset-triggered runs no logical date: such a run fails here; "
            "`{{ ds }}` and `{{ batch }}` (the run's batch, docs/runs.md) render for every run"
        )
    message = f"renders for some runs but not for {kinds} runs ({reason}{why})"
    return [TemplateIssue(loc, message, warning=True)]


def _rendered_problem(rendered: str) -> str | None:
    if not rendered.strip():
        return "the template renders to an empty path; it would read the project folder itself"
    if ".." in re.split(r"[/\\]", rendered.split("://", 1)[-1]):
        return (
            f"the template renders to {rendered!r}, a path with '..'; write it from the "
            "project folder down"
        )
    return None


def _describe(exc: Exception) -> str:
    import jinja2.exceptions

    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"it tries to leave Jinja's sandbox ({exc})"
    message = getattr(exc, "message", None) or str(exc)
    return f"{message} ({type(exc).__name__})"


def _run_types(spec: PipelineSpec, dag: str) -> tuple[str, ...]:
    if dag == "training":
        scheduled = spec.schedule is not None
        asset = spec.retrain_on_request
    else:
        scheduled = spec.monitoring is not None and spec.monitoring.schedule is not None
        asset = False
    kinds = [SCHEDULED] if scheduled else []
    return (*kinds, MANUAL, *([ASSET_TRIGGERED] if asset else []))


def _value_at(spec: Any, loc: Loc) -> Any:
    for part in loc:
        spec = getattr(spec, str(part), None)
        if spec is None:
            return None
    return spec


# -- the sandbox ------------------------------------------------------------------------------


class _TooCostly(Exception):
    """A template that would take too long or too much memory to render."""


@functools.lru_cache(maxsize=1)
def checking_environment() -> Any:
    """Airflow's template environment (sandboxed, StrictUndefined, `do`, its date filters),
    plus bounds on what a template may compute, so checking one can never hang."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment, is_internal_attribute

    class Checking(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "%"})

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            return not is_internal_attribute(obj, attr)  # as Airflow's: `_x` yes, `__x` no

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _bound(operator, left, right)
            return super().call_binop(context, operator, left, right)

    env = Checking(undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"], cache_size=0)
    env.filters.update(AIRFLOW_FILTERS)
    env.globals = {k: v for k, v in env.globals.items() if k in JINJA_GLOBALS}
    return env


def _bound(operator: str, left: Any, right: Any) -> None:
    """Refuse `9**9**9`, `'x' * 10**9` and '%0999999999d' before Python computes them."""
    if operator == "%" and isinstance(left, str):
        if re.search(r"%[-+ #0]*(?:\d{7,}|\*)", left):
            raise _TooCostly("a format width this large is refused")
        return
    numbers = [v for v in (left, right) if isinstance(v, int | float) and not isinstance(v, bool)]
    if operator == "**" and len(numbers) == 2:
        base, exponent = abs(left), right
        if exponent > 64 or (base > 1 and exponent * _log10(base) > 7):
            raise _TooCostly(f"{left} ** {right} is beyond {MAX_NUMBER:,}")
    if operator == "*":
        sized = [v for v in (left, right) if isinstance(v, str | list | tuple)]
        if sized and len(numbers) == 1 and len(sized[0]) * numbers[0] > MAX_NUMBER:
            raise _TooCostly("a repetition that large is refused")
        if len(numbers) == 2 and abs(left * right) > MAX_NUMBER * MAX_NUMBER:
            raise _TooCostly("a product that large is refused")


def _log10(value: float) -> float:
    import math

    return math.log10(value)


def _render(template: Any, context: dict[str, Any]) -> str:
    """Render with a deadline: a trace counts the template's own lines (loops)."""
    deadline = time.monotonic() + RENDER_SECONDS

    def local(frame: Any, event: str, arg: Any) -> Callable | None:
        if time.monotonic() > deadline:
            raise _TooCostly(f"rendering took over {RENDER_SECONDS} s (a runaway loop?)")
        return local

    def calls(frame: Any, event: str, arg: Any) -> Callable | None:
        return local if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        return template.render(context)
    finally:
        sys.settrace(previous)


def _ds(value: Any) -> Any:
    return None if value is None else value.strftime("%Y-%m-%d")


AIRFLOW_FILTERS = {  # airflow.sdk.definitions._internal.templater.FILTERS
    "ds": _ds,
    "ds_nodash": lambda v: None if v is None else v.strftime("%Y%m%d"),
    "ts": lambda v: None if v is None else v.isoformat(),
    "ts_nodash": lambda v: None if v is None else v.strftime("%Y%m%dT%H%M%S"),
    "ts_nodash_with_tz": lambda v: (
        None if v is None else v.isoformat().replace("-", "").replace(":", "")
    ),
}


class _Opaque:
    """Stands in for an Airflow object (task, ti, macros ...): any attribute, item or call
    is another stand-in, so a template using it renders; the sandbox still guards it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> _Opaque:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _Opaque(f"{self._name}.{attr}")

    def __getitem__(self, key: Any) -> _Opaque:
        return _Opaque(f"{self._name}[{key!r}]")

    def __call__(self, *args: Any, **kwargs: Any) -> _Opaque:
        return _Opaque(f"{self._name}()")

    def __iter__(self) -> Any:
        return iter(())

    def __str__(self) -> str:
        return self._name


def _context(run_type: str, added: tuple[str, ...]) -> dict[str, Any]:
    """A run's template context with plausible values; only the names matter for the check,
    the values make filters and attribute access behave as at run time."""
    start = datetime(2026, 1, 15, tzinfo=UTC)
    logical = start if run_type != ASSET_TRIGGERED else None
    run_id = f"{run_type}__{start.isoformat()}"
    dag_run = SimpleNamespace(  # the fields of the Task SDK's DagRun
        dag_id="pipeline__kind", run_id=run_id, logical_date=logical,
        data_interval_start=logical, data_interval_end=logical, run_after=start,
        start_date=start, end_date=None, clear_number=0, run_type=run_type, state="running",
        conf={}, triggering_user_name=None, consumed_asset_events=[], partition_key=None,
        partition_date=None, note=None, team_name=None,
    )  # fmt: skip
    values: dict[str, Any] = {
        name: _Opaque(name)
        for name in ("dag", "task", "task_instance", "ti", "macros", "inlet_events",
                     "outlet_events", "triggering_asset_events", "task_state_store",
                     "asset_state_store", "var", "conn")
    }  # fmt: skip
    values |= {
        "dag_run": dag_run, "run_id": run_id, "params": {"force_retrain": False},
        "inlets": [], "outlets": [], "map_index_template": None,
        "task_instance_key_str": f"pipeline__kind__task__{run_id}", "task_reschedule_count": 0,
        "prev_start_date_success": start - timedelta(days=1),
        "prev_end_date_success": start - timedelta(days=1), "partition_key": None,
        "partition_date": None,
    }  # fmt: skip
    if logical is not None or "ds" in added:
        when = logical or start
        values |= {
            "logical_date": when, "ds": f"{when:%Y-%m-%d}", "ds_nodash": f"{when:%Y%m%d}",
            "ts": when.isoformat(), "ts_nodash": f"{when:%Y%m%dT%H%M%S}",
            "ts_nodash_with_tz": when.isoformat().replace("-", "").replace(":", ""),
            "data_interval_start": when, "data_interval_end": when + timedelta(days=1),
            "prev_data_interval_start_success": when - timedelta(days=1),
            "prev_data_interval_end_success": when,
        }  # fmt: skip
    allowed = {*RUN_VARIABLES[run_type], *added}
    return {name: values.get(name, _Opaque(name)) for name in allowed}  # new names: stand-ins
