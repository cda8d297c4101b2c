"""`data.fanout` for real: the training DAG with its gate as mapped tasks (plan → 3 slices →
reduce, for validation and for drift) run by `dag.test()` on SQLite with the reference
trainer and a local MLflow store, beside the same pipeline without fan-out on the same
batches. Both must reach the same verdicts, reports, branches, snapshots and audit lines: a
passing cold start, a drifted batch judged against the champion, and a failing batch whose
faults sit in different slices (a customer id in the first and the last file). Then the
clear semantics, with `airflow tasks test` (in this process) on the finished run: a reduce
re-reduces the saved slices; a slice of a batch that changed since its plan fails, naming
what to clear. Nothing is mocked.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .airflow_helpers import load_dags, task_test
from .conftest import LogRecords

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PLAIN, SLICED = "fan_plain", "fan_sliced"
CLEAN, DRIFTED, FAULTY = "2026-11-01", "2026-11-08", "2026-11-22"
PARTS = ("plan", "slices")
GATE = ("validate_data", "detect_drift", "retrain", "skip_retrain", "release_retrain_request")


def three_files(source: Path, target: Path, faults: bool = False) -> None:
    """The demo batch as 3 parquet files (so 3 slices); `faults`: one customer id in the
    first and the last file, an out-of-range tenure in the middle one."""
    frame = pq.read_table(source / "part-0.parquet").to_pandas()
    if faults:
        frame.loc[len(frame) - 1, "customer_id"] = frame.loc[5, "customer_id"]
        frame.loc[len(frame) // 2, "tenure_months"] = 99
    table = pa.Table.from_pandas(frame, preserve_index=False)
    target.mkdir(parents=True)
    third = -(-table.num_rows // 3)
    for index in range(3):
        pq.write_table(table.slice(index * third, third), target / f"part-{index}.parquet")
    (target / "_SUCCESS").touch()


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Path:
    root = tmp_path_factory.mktemp("fanout-batches")
    demo = demo_data / "batches"
    three_files(demo / f"dt={CLEAN}", root / f"dt={CLEAN}")
    three_files(demo / f"dt={DRIFTED}", root / f"dt={DRIFTED}")
    three_files(demo / f"dt={CLEAN}", root / f"dt={FAULTY}", faults=True)
    return root


def make_project(base: Path, name: str, batches: Path, fanout: str | None) -> Path:
    """The example pipeline reading `batches`, without what is not about the data gate and
    could wait for a person: monitoring, approval, the canary."""
    project = base / name
    (project / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "dags" / "pipelines.py", project / "dags")
    text = (ROOT / "dags" / "churn.yaml").read_text()
    text = text[: text.index("\nmonitoring:")] + "\n"
    approval = re.search(r"^approval: .*$", text, re.M)
    assert approval
    for old, new in {
        "pipeline: churn": f"pipeline: {name}",
        "include/demo/data/batches": str(batches),
        "min_rows: 1000": "min_rows: 100",
        approval.group(0): "approval: {mode: never}",
        "  enabled: true": "  enabled: false",  # promote after the gate: no canary to wait for
        "  wait: {marker": (f"  fanout: {fanout}\n" if fanout else "") + "  wait: {marker",
    }.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    (project / "dags" / f"{name}.yaml").write_text(text)
    shutil.copytree(ROOT / "include" / "trainer", project / "include" / "trainer")
    return project


def run_day(project: Path, name: str, day: str) -> tuple[str, dict[str, Any], str]:
    """dag.test() one batch; (run state, {task_id: state or [states of its slices]}, run id)."""
    dag = load_dags(project)[f"{name}__training"]
    # dag.test() runs the DAG as serialized in the metadata DB: these pipelines are not in
    # the configured dags folder (the repository's), so they are written there first
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(DagBag(dag_folder=str(project / "dags")), "dags-folder", None)
    run = dag.test(logical_date=datetime.fromisoformat(day).replace(tzinfo=UTC))
    states: dict[str, Any] = {}
    for ti in sorted(run.get_task_instances(), key=lambda ti: ti.map_index):
        state = str(ti.state)
        states[ti.task_id] = [*states.get(ti.task_id, []), state] if ti.map_index >= 0 else state
    return str(run.state), states, run.run_id


def folder(project: Path, name: str) -> Path:
    return project / ".mlops" / "pipelines" / name


def run_folder(project: Path, name: str, run_id: str) -> Path:
    from airflow_mlops_provider.core.layout import safe_run_id

    return folder(project, name) / "runs" / f"{name}__training" / safe_run_id(run_id)


def same(value: Any, project: Path, name: str) -> Any:
    """A value with this project's paths and names made comparable with the other's, floats
    to 12 digits (sums merged from slices differ in the last bits)."""
    text = json.dumps(value, sort_keys=True).replace(str(project), "<project>")
    text = re.sub(r"manual__[0-9T:._+-]+", "<run_id>", text)  # in report paths
    text = re.sub(r"\b[0-9a-f]{32}\b", "<mlflow_run_id>", text)
    return json.loads(
        text.replace(name, "<pipeline>"), parse_float=lambda v: float(f"{float(v):.12g}")
    )


def audit(project: Path, name: str, run_id: str) -> list[dict[str, Any]]:
    lines = (folder(project, name) / "audit.jsonl").read_text().splitlines()
    entries = [entry for entry in map(json.loads, lines) if entry["run_id"] == run_id]
    gate = [e for e in entries if e["task_id"] in ("validate_data", "detect_drift")]
    return [same({"event": e["event"], "details": e["details"]}, project, name) for e in gate]


def report(project: Path, name: str, run_id: str, task: str, file: str) -> Any:
    """The report without what names the run, and with its column profile's distinct counts
    apart: merged from slices they are lower bounds (docs/data.md), as for any batch read in
    more than one chunk."""
    document = json.loads((run_folder(project, name, run_id) / task / file).read_text())
    document.pop("compared", None)  # names the run and its paths
    document["distinct"] = [
        (column.pop("distinct"), column.pop("distinct_is_lower_bound"))
        for column in document.get("columns", [])
    ]
    return same(document, project, name)


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory, batches: Path) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("fanout-projects")
    return {
        PLAIN: make_project(base, PLAIN, batches, None),
        SLICED: make_project(base, SLICED, batches, "{slices: 3}"),
    }


def test_factory_maps_the_gate_over_slices(projects: dict[str, Path]) -> None:
    plain = load_dags(projects[PLAIN])[f"{PLAIN}__training"]
    dag = load_dags(projects[SLICED])[f"{SLICED}__training"]
    added = {
        "validate_data_plan",
        "validate_data_slices",
        "detect_drift_plan",
        "detect_drift_slices",
    }
    assert set(dag.task_ids) == set(plain.task_ids) | added
    assert "validate_data_plan" in dag.get_task("wait_for_batch").downstream_task_ids
    for upstream, downstream in [
        ("validate_data_plan", "validate_data_slices"),
        ("validate_data_slices", "validate_data"),
        ("validate_data", "detect_drift_plan"),
        ("detect_drift_plan", "detect_drift_slices"),
        ("detect_drift_slices", "detect_drift"),
    ]:
        assert downstream in dag.get_task(upstream).downstream_task_ids, (upstream, downstream)
    for slices, plan in [("validate_data_slices", "validate_data_plan"),
                         ("detect_drift_slices", "detect_drift_plan")]:  # fmt: skip
        mapped = dag.get_task(slices)
        assert type(mapped).__name__ == "MappedOperator"
        (argument,) = mapped.expand_input.value.items()
        assert argument[0] == "batch_slice" and argument[1].operator.task_id == plan
    assert (
        dag.get_task("detect_drift").downstream_task_ids
        == plain.get_task("detect_drift").downstream_task_ids
    )
    assert dag.get_task("detect_drift").trigger_rule == "none_failed"  # no champion: 0 slices
    release = dag.get_task("release_retrain_request")
    assert release.upstream_task_ids == {"wait_for_batch", *added, "validate_data", "detect_drift"}
    outlets = [o.uri for o in dag.get_task("validate_data").outlets]
    assert outlets == [f"mlops://{SLICED}/validated-batch"]


def test_fanned_out_gate_decides_as_the_single_tasks(
    projects: dict[str, Path], batches: Path, airflow_db: None
) -> None:
    results: dict[str, dict[str, Any]] = {}
    for name, project in projects.items():
        results[name] = {day: run_day(project, name, day) for day in (CLEAN, DRIFTED, FAULTY)}
    plain, sliced = results[PLAIN], results[SLICED]

    # cold start: valid, no champion (the drift plan has no slices), trained and promoted
    assert plain[CLEAN][0] == sliced[CLEAN][0] == "success"
    assert sliced[CLEAN][1]["validate_data_slices"] == ["success"] * 3
    assert sliced[CLEAN][1]["detect_drift_slices"] == "skipped"
    # drifted: three drift slices judged against v1, the same route
    assert plain[DRIFTED][0] == sliced[DRIFTED][0] == "success"
    assert sliced[DRIFTED][1]["detect_drift_slices"] == ["success"] * 3
    assert sliced[DRIFTED][1]["retrain"] == "success"
    # faults in different slices: rejected the same way, nothing downstream
    assert plain[FAULTY][0] == sliced[FAULTY][0] == "failed"
    assert sliced[FAULTY][1]["validate_data"] == "failed"
    for day in (CLEAN, DRIFTED, FAULTY):
        assert {t: plain[day][1].get(t) for t in GATE} == {t: sliced[day][1].get(t) for t in GATE}
        runs = {PLAIN: plain[day][2], SLICED: sliced[day][2]}
        audits = [audit(projects[name], name, run_id) for name, run_id in runs.items()]
        assert audits[0] == audits[1], day
        reports = [
            report(projects[name], name, run_id, "validate_data", "validation.json")
            for name, run_id in runs.items()
        ]
        whole, merged = reports[0].pop("distinct"), reports[1].pop("distinct")
        assert reports[0] == reports[1], day
        for (exact, _), (bound, is_bound) in zip(whole, merged, strict=True):
            assert bound == exact or (is_bound and bound <= exact)
    faulty = reports[1]
    failed = {(r["rule"], r["unexpected_count"]) for r in faulty["results"] if not r["success"]}
    assert failed == {("unique", 2), ("between", 1)}, faulty["summary"]

    drift = [
        report(projects[name], name, results[name][DRIFTED][2], "detect_drift", "drift.json")
        for name in projects
    ]
    assert drift[0] == drift[1] and drift[0]["dataset_drift"] is True

    snapshots = [sorted(p.name for p in (folder(projects[n], n) / "snapshots").iterdir())
                 for n in projects]  # fmt: skip
    assert snapshots[0] == snapshots[1] and len(snapshots[0]) == 2
    quarantine = [
        same(json.loads(next((folder(projects[n], n) / "quarantine").rglob("reason.json"))
                        .read_text()), projects[n], n)
        for n in projects
    ]  # fmt: skip
    assert quarantine[0] == quarantine[1]


def clean_run_id() -> str | None:
    """The run of the CLEAN batch the previous test made, if it ran."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    logical = datetime.fromisoformat(CLEAN).replace(tzinfo=UTC)
    with create_session() as session:
        query = select(DagRun.run_id).where(
            DagRun.dag_id == f"{SLICED}__training", DagRun.logical_date == logical
        )
        return session.scalars(query).first()


def test_cleared_reduce_and_slices(
    projects: dict[str, Path],
    batches: Path,
    airflow_db: None,
    logged: LogRecords,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`airflow tasks test` (in this process) on the finished run of CLEAN: the path a
    cleared task takes."""
    project = projects[SLICED]
    run_id = clean_run_id() or run_day(project, SLICED, CLEAN)[2]
    dag = load_dags(project)[f"{SLICED}__training"]
    validation = run_folder(project, SLICED, run_id) / "validate_data" / "validation.json"
    before = validation.read_text()
    assert task_test(dag, "validate_data", CLEAN) == "success"  # the saved slices reduced again
    assert validation.read_text() == before

    # the same files: the slice runs again
    assert task_test(dag, "validate_data_slices", CLEAN, map_index=1) == "success"

    batch = batches / f"dt={CLEAN}"
    shutil.copy(batch / "part-2.parquet", batch / "late.parquet")  # a file arrives late
    start = len(logged.lines)
    try:
        state = task_test(dag, "validate_data_slices", CLEAN, map_index=1)
    finally:
        (batch / "late.parquet").unlink()
    log = "\n".join(logged.lines[start:]) + capfd.readouterr().out
    assert state == "failed", log[-3000:]
    assert "changed since it was planned" in log
    assert "Clear validate_data_plan with its downstream tasks" in log
