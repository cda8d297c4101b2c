"""The retrain step fails loudly and registers nothing when the trainer misbehaves: a non-zero
exit (with the tail of its log), a hang past the timeout, or a run that logged no model."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airflow_mlops_provider.exceptions import TrainingError
from airflow_mlops_provider.execution.local import run_trainer

from .airflow_helpers import load_dags, registry
from .conftest import LogRecords

pytestmark = pytest.mark.integration

NO_MODEL_TRAINER = """
import mlflow
with mlflow.start_run():
    mlflow.log_metric("holdout_roc_auc", 0.9)
print("done, but forgot the model")
"""


def test_non_zero_exit_shows_the_tail(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text("import sys\nfor i in range(100): print('step', i)\nsys.exit(3)\n")
    lines: list[str] = []
    with pytest.raises(TrainingError) as info:
        run_trainer(["python", str(script)], {}, cwd=tmp_path, timeout_s=60, log=lines.append)
    message = str(info.value)
    assert "exited with code 3" in message and "step 99" in message
    assert "step 10\n" not in message  # only the tail, not the whole log
    assert len(lines) == 100  # every line reached the task log


def test_missing_trainer_script_is_named_before_starting(tmp_path: Path) -> None:
    lines: list[str] = []
    with pytest.raises(TrainingError) as info:
        run_trainer(
            ["python", "include/trainer/train.py"], {}, cwd=tmp_path, timeout_s=60, log=lines.append
        )
    assert "include/trainer/train.py is not a file under" in str(info.value)
    assert "point training.command at your trainer" in str(info.value) and lines == []


def test_silent_hang_hits_the_timeout(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text("import time\nprint('starting', flush=True)\ntime.sleep(60)\n")
    with pytest.raises(TrainingError, match="exceeded 2s"):
        run_trainer([sys.executable, str(script)], {}, cwd=tmp_path, timeout_s=2, log=print)


def test_run_without_model_fails_and_registers_nothing(
    project: Path, airflow_db: None, capsys: pytest.CaptureFixture[str], logged: LogRecords
) -> None:
    (project / "include" / "trainer" / "no_model.py").write_text(NO_MODEL_TRAINER)
    spec = project / "dags" / "churn.yaml"
    text = spec.read_text().replace("include/trainer/train.py", "include/trainer/no_model.py")
    spec.write_text(text + "\nretries: 0\n")
    # Fresh SQLite connections: this runs last of many modules sharing the session's Airflow
    # database (other processes wrote to it), and a pooled connection once read it as
    # "malformed" here while the file itself checked ok afterwards.
    from airflow import settings

    settings.engine.dispose()
    dag_run = load_dags(project)["churn__training"].test(
        logical_date=datetime(2026, 11, 1, tzinfo=UTC)
    )
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states["retrain"] == "failed" and states["evaluate"] == "upstream_failed"
    assert "logged no model at artifact path 'model'" in capsys.readouterr().out + logged.text()
    client = registry(project)
    assert client.search_model_versions("name='churn'") == []
