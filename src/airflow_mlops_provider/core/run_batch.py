"""Which batch a DAG run works on, for every way a run starts.

Airflow 3 gives asset-triggered runs (and REST triggers without one) no logical date, so
`{{ ds }}` alone cannot name the data. A run's batch is, in order: the `batch` param (a person
names it when triggering), the batch a retrain request names (the extra of the Asset event
that triggered the run), the logical date (scheduled, backfill, manual with a date), else the
time the run was created for (`run_after`). Batches are days, `YYYY-MM-DD`, as the
`dt={{ ds }}` partitions are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

BATCH_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
PARAM = "batch"  # the training DAG's param, and the retrain request's extra key


class BatchError(ValueError):
    """A batch that is not a day: named with where it came from and the expected form."""


@dataclass(frozen=True)
class RunBatch:
    """The run's batch and where it came from (said in the task log)."""

    batch: str
    origin: str

    def template_values(self) -> dict[str, str]:
        """What templates render from: `batch`, and `ds` / `ds_nodash` set to the batch's day,
        so `dt={{ ds }}` names the batch the run works on in every run type."""
        return {"batch": self.batch, "ds": self.batch, "ds_nodash": self.batch.replace("-", "")}


def resolve_batch(
    *,
    param: Any,
    requests: Iterable[Mapping[str, Any]],
    logical_date: datetime | None,
    run_after: datetime | None,
) -> RunBatch:
    """The batch of one run (see the module's docstring for the order).

    `requests`: the extras of the Asset events that triggered the run, oldest first; the
    newest one naming a batch wins (several requests coalesced into one run train once, on
    the latest data)."""
    if param not in (None, ""):
        return RunBatch(_checked(param, f"the run's `{PARAM}` param"), f"the `{PARAM}` param")
    named = [r for r in requests if r.get(PARAM)]
    if named:
        source = named[-1].get("source_run_id") or "an Asset event"
        return RunBatch(
            _checked(named[-1][PARAM], f"the retrain request of {source}"),
            f"the retrain request of {source}",
        )
    if logical_date is not None:
        return RunBatch(logical_date.date().isoformat(), "the run's logical date")
    if run_after is not None:
        return RunBatch(run_after.date().isoformat(), "the time the run was created for")
    raise BatchError(
        f"the run has no `{PARAM}` param, no retrain request naming a batch, no logical date "
        f'and no run_after; trigger it with params {{"{PARAM}": "YYYY-MM-DD"}}'
    )


def _checked(value: Any, origin: str) -> str:
    text = value.isoformat() if isinstance(value, date) else str(value).strip()
    if not re.match(BATCH_PATTERN, text):
        raise BatchError(f"batch {text!r} from {origin} is not a day; write it as YYYY-MM-DD")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise BatchError(f"batch {text!r} from {origin} is not a calendar day") from None
    return text
