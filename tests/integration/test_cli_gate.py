"""`airflow-mlops gate`: the evaluate task's gate on models given as local MLflow model
folders, JSON on stdout, exit 0 promote / 1 reject / 3 a person decides / 2 usage error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "dags" / "churn.yaml"
LATENCY = "latency: {max_p95_ms: 2000, batch_size: 100, repeats: 20}"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example pipeline without its latency limit: wall-clock timings on a shared test
    machine are not what these tests judge (the latency check has its own unit tests)."""
    text = EXAMPLE.read_text()
    assert LATENCY in text
    path = tmp_path_factory.mktemp("gate-cli-pipeline") / "churn.yaml"
    path.write_text(text.replace(LATENCY, "latency: {batch_size: 100, repeats: 5}"))
    return str(path)


@pytest.fixture(scope="module")
def models(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Model folders trained by the reference trainer's own code, saved as MLflow models
    whose pyfunc predict returns probabilities (as the trainer logs them), and a holdout."""
    import mlflow

    sys.path.insert(0, str(ROOT / "include" / "trainer"))
    import train as trainer

    from airflow_mlops_provider.core.snapshot import time_split
    from airflow_mlops_provider.spec import load_spec

    data = load_spec(EXAMPLE).data
    frame = pd.read_parquet(demo_data / "batches" / "dt=2026-11-01")
    train, holdout = time_split(frame, data.split.time_column, data.split.holdout_fraction)
    folder = tmp_path_factory.mktemp("gate-cli")
    spec = {**data.features.model_dump(), "target": data.target, "task": data.task}
    found = {}
    for name, knobs in (("good", {}), ("worse", {"label_noise": 0.45})):
        params = {**trainer.DEFAULT_PARAMS, "backend": "sklearn", "max_iter": 40, **knobs}
        labels = trainer.perturb_labels(train, data.target, params, data.task)
        model = trainer.build_model(spec, params).fit(train[data.features.all], labels)
        mlflow.sklearn.save_model(
            model,
            str(folder / name),
            pyfunc_predict_fn="predict_proba",
            skops_trusted_types=trainer.SKOPS_TRUSTED_TYPES["sklearn"],
        )
        found[name] = str(folder / name)
    holdout.to_parquet(folder / "holdout.parquet")
    found["holdout"] = str(folder / "holdout.parquet")
    return found


def gate(*args: str, cwd: Path) -> tuple[int, dict | str]:
    command = [str(Path(sys.executable).parent / "airflow-mlops"), "gate", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    try:
        return done.returncode, json.loads(done.stdout)
    except json.JSONDecodeError:
        return done.returncode, done.stderr


def test_the_same_model_is_promoted_a_worse_one_rejected(
    models: dict, pipeline: str, tmp_path: Path
) -> None:
    base = [pipeline, "--holdout", models["holdout"]]
    code, same = gate(*base, "--challenger", models["good"], "--champion", models["good"],
                      "--report", "gate.html", cwd=tmp_path)  # fmt: skip
    assert code == 0 and same["decision"] == "promote", same
    regression = next(c for c in same["checks"] if c["bound"] == "max_regression")
    assert regression["lower"] == regression["upper"] == 0  # paired: identical models
    assert "Decision: promote automatically" in (tmp_path / "gate.html").read_text()
    code, worse = gate(*base, "--challenger", models["worse"], "--champion", models["good"],
                       cwd=tmp_path)  # fmt: skip
    assert code == 1 and worse["decision"] == "reject", worse["reasons"]
    assert any("roc_auc regression" in r and "outside the bound" in r for r in worse["reasons"])


def test_a_first_model_and_usage_errors(models: dict, pipeline: str, tmp_path: Path) -> None:
    code, first = gate(pipeline, "--holdout", models["holdout"], "--challenger",
                       models["good"], cwd=tmp_path)  # fmt: skip
    assert code in (0, 3) and first["champion"] is None
    assert first["risk"]["factors"]["cold_start"] == 1
    code, error = gate(pipeline, "--holdout", models["holdout"], "--challenger",
                       str(tmp_path / "nowhere"), cwd=tmp_path)  # fmt: skip
    assert code == 2 and error.startswith("airflow-mlops gate:")
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "bad.parquet")
    code, error = gate(pipeline, "--holdout", "bad.parquet", "--challenger",
                       models["good"], cwd=tmp_path)  # fmt: skip
    assert code == 2 and "lacks column(s)" in error and "churned" in error
