"""Fixtures of the operator tests: a small fake task instance and context.

Operators only translate: they read the context and XCom, call one service, push results and
raise Airflow's exceptions. So each test replaces the service the operator calls with a
recorder (the services have their own tests) and checks the translation both ways.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_mlops_provider.services.config import PipelineConfig


class FakeTI:
    """xcom_pull/xcom_push over a dict {(task_id, key): value}, plus the ids a TI carries."""

    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None, task_id: str = "t"):
        self.dag_id, self.run_id, self.task_id, self.map_index = (
            "p__training",
            "manual__1",
            task_id,
            -1,
        )
        self.id = "ti-uuid"
        self.try_number, self.max_tries = 2, 1  # the first retry (task retries: 1)
        self.xcoms = dict(xcoms or {})
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcoms.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


class OutletEvents(defaultdict):
    def __init__(self) -> None:
        super().__init__(lambda: SimpleNamespace(extra=None))


def make_context(ti: FakeTI, **extra: Any) -> dict[str, Any]:
    logical = datetime(2026, 11, 1, tzinfo=UTC)
    return {
        "ti": ti,
        "task_instance": ti,
        "params": {},
        "task": SimpleNamespace(retries=1),
        "dag_run": SimpleNamespace(dag_id=ti.dag_id, run_id=ti.run_id, run_after=logical),
        "logical_date": logical,
        "data_interval_end": logical,
        "outlet_events": OutletEvents(),
        **extra,
    }


@pytest.fixture
def pipeline(tmp_path: Path) -> PipelineConfig:
    return PipelineConfig(pipeline="p", project_dir=str(tmp_path))


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch):
    """replace(module, name, returns) swaps a service function for a recorder; the calls'
    keyword arguments (and the runtime) land in the returned list."""

    def replace(module: Any, name: str, returns: Any = None, raises: Exception | None = None):
        recorded: list[dict[str, Any]] = []

        def recorder(rt: Any, *args: Any, **kwargs: Any) -> Any:
            recorded.append({"rt": rt, "args": args, **kwargs})
            if raises is not None:
                raise raises
            return returns(**kwargs) if callable(returns) else returns

        monkeypatch.setattr(module, name, recorder)
        return recorded

    return replace
