"""`data.fanout` under a real scheduler: `airflow standalone` (SQLite, LocalExecutor with 2
worker slots, SimpleAuthManager: test_approval_rest.standalone) on a free 127.0.0.1 port
runs the fan-out pipeline's training DAG, triggered over REST. The scheduler expands the
slice tasks from the plan's XCom (3 mapped task instances, run as the executor's slots
allow), the reduce merges them, and the verdict and report equal those of one validation of
the whole batch. Nothing is mocked; one DAG run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from airflow_mlops_provider.adapters.great_expectations import validate_frame
from airflow_mlops_provider.core.contract import checks_from_contract
from airflow_mlops_provider.spec import load_spec

from .test_approval_rest import _wait_for, poller, standalone, trigger
from .test_fanout_dag import CLEAN, SLICED, batches, folder, make_project  # noqa: F401

pytestmark = pytest.mark.integration
DAG_ID = f"{SLICED}__training"


@pytest.fixture
def scheduler(tmp_path: Path, batches: Path) -> Iterator[dict[str, Any]]:  # noqa: F811
    home = tmp_path / "airflow"
    home.mkdir()
    project = make_project(tmp_path, SLICED, batches, "{slices: 3}")
    pipeline = project / "dags" / f"{SLICED}.yaml"
    weekly = 'schedule: "@weekly"'
    assert weekly in pipeline.read_text()
    pipeline.write_text(pipeline.read_text().replace(weekly, "schedule: null"))  # this run only
    with standalone(project, home, tmp_path / "standalone.log") as server:
        yield {"api": f"{server['base']}/api/v2/dags/{DAG_ID}", **server, "project": project}


def test_the_scheduler_maps_the_slices_and_the_reduce_decides(
    scheduler: dict[str, Any],
    batches: Path,  # noqa: F811
) -> None:
    api, headers = scheduler["api"], scheduler["headers"]

    get = poller(api, headers)
    run = trigger(api, headers, CLEAN, "fanout-test")
    final = _wait_for(
        lambda: (s := get(run).get("state")) in ("success", "failed") and s, "the run to end"
    )
    instances = get(f"{run}/taskInstances")["task_instances"]
    slices = sorted(
        (ti["map_index"], ti["state"])
        for ti in instances
        if ti["task_id"] == "validate_data_slices"
    )
    states = {ti["task_id"]: ti["state"] for ti in instances if ti["map_index"] < 0}
    assert final == "success", states
    assert slices == [(0, "success"), (1, "success"), (2, "success")]
    assert states["validate_data"] == states["retrain"] == "success"  # no champion: train
    assert states["detect_drift_slices"] == "skipped"  # nothing to compare with yet
    assert states["skip_retrain"] == "skipped"

    reduced = folder(scheduler["project"], SLICED) / "runs" / DAG_ID / "fanout-test"
    report = json.loads((reduced / "validate_data" / "validation.json").read_text())
    spec = load_spec(scheduler["project"] / "dags" / f"{SLICED}.yaml")
    whole = validate_frame(  # one validation of the whole batch, as of the run's interval end
        pd.read_parquet(batches / f"dt={CLEAN}"),
        checks_from_contract(spec.contract),
        now=datetime.fromisoformat(CLEAN).replace(tzinfo=UTC),
    )
    assert (report["passed"], report["row_count"], report["summary"]) == (
        whole.passed,
        whole.row_count,
        whole.summary(),
    )
    assert [(r["rule"], r["status"], r["observed"]) for r in report["results"]] == [
        (r.check.rule, r.status, r.observed) for r in whole.results
    ]
