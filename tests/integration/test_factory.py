"""The DAG factory through Airflow's real DagBag: shapes, isolation of broken YAMLs, the
parsing context, and no heavy import at parse time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("great_expectations", "mlflow", "pandas", "scipy", "sklearn", "kubernetes", "boto3")


def make_dags_folder(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    shutil.copy(ROOT / "dags" / "pipelines.py", folder)
    shutil.copy(ROOT / "dags" / "churn.yaml", folder)
    for name, text in (extra or {}).items():
        (folder / name).write_text(text)
    return folder


def dagbag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_parse_imports_nothing_heavy() -> None:
    code = (
        "import runpy, sys, json; runpy.run_path(sys.argv[1]); "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "dags" / "pipelines.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_example_pipeline_dags(tmp_path: Path) -> None:
    bag = dagbag(make_dags_folder(tmp_path))
    assert not bag.import_errors
    assert set(bag.dags) == {
        "churn__training",
        "churn__monitoring",
        "churn__health",
        "churn__rollback",
    }
    training = bag.dags["churn__training"]
    assert set(training.task_ids) == {
        "wait_for_batch",
        "validate_data",
        "detect_drift",
        "retrain",
        "skip_retrain",
        "evaluate",
        "approve",
        "canary_promote",
        "reject",
        "notify",
        "release_retrain_request",
    }
    sensor = training.get_task("wait_for_batch")
    assert sensor.downstream_task_ids == {"validate_data", "release_retrain_request"}
    release = training.get_task("release_retrain_request")  # a request failed before training
    assert release.upstream_task_ids == {"wait_for_batch", "validate_data", "detect_drift"}
    assert release.trigger_rule == "one_failed" and release.retries == 0
    assert {"force_retrain", "batch"} <= set(training.params)
    assert sensor.mode == "reschedule" and sensor.timeout == 360 * 60
    assert training.get_task("detect_drift").downstream_task_ids == {
        "retrain",
        "skip_retrain",
        "release_retrain_request",  # skipped by the branch when the drift check succeeds
    }
    assert training.get_task("evaluate").downstream_task_ids == {
        "canary_promote",
        "approve",
        "reject",
    }
    assert "pipeline:churn" in training.tags and training.max_active_runs == 1
    assert "pipeline: churn" in training.doc_md  # the source YAML is shown in the DAG docs
    assert type(training.timetable).__name__ == "AssetOrTimeSchedule"
    monitoring = bag.dags["churn__monitoring"]
    assert monitoring.get_task("validate_serving_data").downstream_task_ids == {
        "detect_drift",
        "live_performance",
    }
    assert monitoring.get_task("decide").upstream_task_ids == {"detect_drift", "live_performance"}
    assert monitoring.get_task("decide").downstream_task_ids == {
        "request_retraining",
        "alert",
        "healthy",
    }
    assert [i.uri for i in monitoring.get_task("decide").inlets] == [
        "mlops://churn/retrain-request",
        "mlops://churn/retrain-request-released",  # requests whose training failed before it
    ]
    assert [o.uri for o in release.outlets] == ["mlops://churn/retrain-request-released"]
    assert bag.dags["churn__health"].task_ids == ["health_report"]
    outlets = monitoring.get_task("request_retraining").outlets
    assert [o.uri for o in outlets] == ["mlops://churn/retrain-request"]


def test_run_params_reach_the_trigger_form_the_trigger_check_and_the_tasks(
    tmp_path: Path,
) -> None:
    """The factory gives the DAGs their params after their tasks (builders._declare_params),
    so Airflow neither copies them into each task nor checks them at DAG creation: here the
    defaults are checked, and the serialized DAG (what the UI's trigger form and the trigger
    API read) still describes them and refuses a malformed batch with a clear error."""
    from airflow.exceptions import ParamValidationError
    from airflow.sdk.definitions.param import process_params
    from airflow.serialization.serialized_objects import DagSerialization

    bag = dagbag(make_dags_folder(tmp_path))
    training, rollback = bag.dags["churn__training"], bag.dags["churn__rollback"]
    assert training.params.validate() == {"force_retrain": False, "batch": None}
    assert rollback.params.validate() == {"version": None}
    assert all(not task.params for task in (*training.tasks, *rollback.tasks))
    served = DagSerialization.from_dict(DagSerialization.to_dict(training)).params
    assert "YYYY-MM-DD" in served.get_param("batch").description
    assert served.deep_merge({"batch": "2026-11-08"}).validate()["batch"] == "2026-11-08"
    with pytest.raises(ParamValidationError, match="param batch: 'last week' does not match"):
        served.deep_merge({"batch": "last week"}).validate()
    with pytest.raises(ParamValidationError, match="param force_retrain"):
        served.deep_merge({"force_retrain": "yes"}).validate()
    # what the task runner puts in a task's context["params"]: the DAG's, with the run's conf
    validate = training.get_task("validate_data")
    conf = {"batch": "2026-11-08"}
    in_task = process_params(training, validate, conf, suppress_exception=False)
    assert in_task == {"force_retrain": False, "batch": "2026-11-08"}


def test_broken_yaml_becomes_config_error_dag_and_hides_nothing(tmp_path: Path) -> None:
    broken = (ROOT / "dags" / "churn.yaml").read_text()
    broken = broken.replace("pipeline: churn", "pipeline: fraud").replace(
        "holdout_fraction: 0.2", "holdout_fraction: lots"
    )
    bag = dagbag(make_dags_folder(tmp_path, {"fraud.yaml": broken}))
    assert not bag.import_errors
    assert {"churn__training", "fraud__config_error"} <= set(bag.dags)
    error_dag = bag.dags["fraud__config_error"]
    assert "data.split.holdout_fraction" in error_dag.description
    assert "fraud.yaml:" in error_dag.doc_md and "'lots'" in error_dag.doc_md
    assert "config-error" in error_dag.tags


def test_duplicate_pipeline_name_is_a_config_error_of_both_files(tmp_path: Path) -> None:
    same = (ROOT / "dags" / "churn.yaml").read_text()
    bag = dagbag(make_dags_folder(tmp_path, {"zz_copy.yaml": same}))
    assert set(bag.dags) == {"churn__config_error", "zz_copy__config_error"}
    assert "is also defined in churn.yaml" in bag.dags["zz_copy__config_error"].doc_md
    assert "is also defined in zz_copy.yaml" in bag.dags["churn__config_error"].doc_md


def test_broken_defaults_make_every_pipeline_a_visible_error(tmp_path: Path) -> None:
    bag = dagbag(make_dags_folder(tmp_path, {"defaults.yaml": "retries: [oops\n"}))
    assert set(bag.dags) == {"churn__config_error"}
    assert "defaults.yaml is invalid" in bag.dags["churn__config_error"].doc_md


def test_approval_step_follows_the_mode(tmp_path: Path) -> None:
    """risk/always: `approve` between the gate and promotion (which the gate may also reach
    directly); never: no approval task at all."""
    example = (ROOT / "dags" / "churn.yaml").read_text()
    example = example[: example.index("\napproval:")] + example[example.index("\nmonitoring:") :]
    folder = make_dags_folder(tmp_path)
    (folder / "churn.yaml").write_text(
        example + "\napproval: {mode: always, timeout_hours: 2, on_timeout: promote}\n"
    )
    training = dagbag(folder).dags["churn__training"]
    approve = training.get_task("approve")
    assert type(approve).__name__ == "GateApprovalOperator"
    assert approve.downstream_task_ids == {"canary_promote"}
    assert approve.defaults == ["Approve"] and approve.response_timeout.total_seconds() == 7200
    assert training.get_task("canary_promote").trigger_rule == "none_failed_min_one_success"
    (folder / "churn.yaml").write_text(example + "\napproval: {mode: never}\n")
    training = dagbag(folder).dags["churn__training"]
    assert "approve" not in training.task_ids
    assert training.get_task("evaluate").downstream_task_ids == {"canary_promote", "reject"}


def test_parsing_context_builds_only_the_wanted_dag(tmp_path: Path) -> None:
    folder = make_dags_folder(tmp_path)
    code = (
        "import runpy, sys; ns = runpy.run_path(sys.argv[1]); "
        "print(sorted(k for k in ns if '__' in k and not k.startswith('__')))"
    )
    env = {**os.environ, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": "churn__monitoring"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder / "pipelines.py")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert done.stdout.strip().splitlines()[-1] == "['churn__monitoring']"


def test_provider_entry_point() -> None:
    from importlib.metadata import entry_points

    (entry,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_mlops_provider")
    ]
    info = entry.load()()
    assert info["package-name"] == "airflow-mlops-provider"
    assert "airflow_mlops_provider.links.MlflowRunLink" in info["extra-links"]


def test_batch_sensor_waits_for_the_marker(tmp_path: Path) -> None:
    from airflow_mlops_provider.sensors.batch import BatchSensor
    from airflow_mlops_provider.services.config import PipelineConfig
    from airflow_mlops_provider.spec import load_spec

    spec = load_spec(ROOT / "dags" / "churn.yaml")
    sensor = BatchSensor(
        task_id="w",
        pipeline=PipelineConfig.from_spec(spec, str(tmp_path)),
        wait=spec.data.wait,
        source="lake/dt=1",
    )
    (tmp_path / "lake" / "dt=1").mkdir(parents=True)
    scheduled = {  # only a scheduled run waits, while no other run is queued
        "dag_run": SimpleNamespace(dag_id="d", run_id="r", run_type="scheduled"),
        "ti": SimpleNamespace(get_dr_count=lambda dag_id, states: 0),
    }
    assert sensor.poke(scheduled) is False  # the folder exists, the batch is not complete yet
    (tmp_path / "lake" / "dt=1" / "_SUCCESS").touch()
    assert sensor.poke(scheduled) is True
