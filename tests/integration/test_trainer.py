"""The reference trainer against a real MLflow store, and the demo data it is meant for.

No Airflow: the platform's part (create the run, pass the contract's environment, check the
run afterwards) is played by the test, the trainer runs as a real subprocess.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TRAINER = ROOT / "include" / "trainer" / "train.py"
GENERATOR = ROOT / "include" / "demo" / "generate.py"
REF, NEW = "2026-11-01", "2026-11-08"
SPEC = {
    "target": "churned",
    "numeric": ["tenure_months", "monthly_charges", "total_charges", "support_calls"],
    "categorical": ["contract", "payment_method", "internet_service"],
    "task": "binary_classification",
}
LINEAGE = {"pipeline": "churn", "dag_id": "churn__training", "data_snapshot": "sha256:test"}


def _load(path: Path, name: str) -> ModuleType:
    """Import a script under include/ (not a package) by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return _load(GENERATOR, "mlops_demo_generate")


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    return _load(TRAINER, "mlops_reference_train")


@pytest.fixture
def one_thread() -> Iterator[None]:
    """In-process fits: OpenMP threads crawl when the CPUs are shared (CI)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def small_demo(generator: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """This module's own 3000-row copy, keyed like ``generate()``'s result."""
    return generator.generate(tmp_path_factory.mktemp("demo"), rows=3000, seed=7)


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite store, also made the process default so ``runs:/`` URIs resolve."""
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # restored after mlflow unsets it below
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def _create_run(tracking_uri: str, tmp_path: Path) -> str:
    """What the platform's retrain step does before it starts the trainer."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(
        "churn", artifact_location=f"file://{tmp_path}/artifacts"
    )
    return client.create_run(experiment_id).info.run_id


def _run_trainer(**contract: str) -> subprocess.CompletedProcess[str]:
    """Start train.py with only the contract's variables on top of a clean environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLOPS_"))}
    env.update({"OMP_NUM_THREADS": "1", **contract})  # OpenMP crawls when CPUs are shared (CI)
    return subprocess.run(
        [sys.executable, str(TRAINER)], env=env, capture_output=True, text=True, timeout=120
    )


def _contract(data: dict, tracking_uri: str, run_id: str, **overrides: str) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_RUN_ID": run_id,
        "MLOPS_TRAIN_DATA": str(data[f"batches/{REF}"].parent),  # a directory works too
        "MLOPS_HOLDOUT_DATA": str(data[f"batches/{NEW}"]),
        "MLOPS_PARAMS": json.dumps({"max_iter": 100, "learning_rate": 0.1}),
        "MLOPS_DATA_SPEC": json.dumps(SPEC),
        "MLOPS_LINEAGE": json.dumps(LINEAGE),
        "CUDA_VISIBLE_DEVICES": "",  # the CPU even on a GPU runner: same assertions everywhere
        **overrides,
    }


@pytest.mark.parametrize("backend", ["sklearn", "xgboost"])
def test_trainer_finishes_the_platform_run_with_a_loadable_model(
    small_demo: dict, tracking_uri: str, tmp_path: Path, backend: str
) -> None:
    import mlflow
    import pandas as pd

    run_id = _create_run(tracking_uri, tmp_path)
    params = json.dumps({"backend": backend, "max_iter": 100, "learning_rate": 0.1})
    result = _run_trainer(**_contract(small_demo, tracking_uri, run_id, MLOPS_PARAMS=params))
    assert result.returncode == 0, result.stderr

    run = mlflow.MlflowClient(tracking_uri).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert 0.65 < run.data.metrics["holdout_roc_auc"] < 0.95
    assert 0.55 < run.data.metrics["holdout_accuracy"] < 0.95
    assert run.data.params["max_iter"] == "100"
    assert (run.data.params["backend"], run.data.params["device"]) == (backend, "cpu")
    assert not [t for t in run.data.tags if not t.startswith("mlflow.")]  # tags: platform's
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/lineage.json") == LINEAGE
    requirements = mlflow.artifacts.load_text(f"runs:/{run_id}/model/requirements.txt")
    assert ("xgboost" in requirements) == (backend == "xgboost")

    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    served = pd.read_parquet(small_demo[f"inference_logs/{NEW}"])
    proba = model.predict(served[SPEC["categorical"] + SPEC["numeric"]])
    assert proba.shape == (len(served), 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert abs(proba.sum(axis=1) - 1).max() < 1e-6  # xgboost computes in float32

    version = mlflow.register_model(f"runs:/{run_id}/model", "churn")
    assert version.run_id == run_id


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"MLOPS_PARAMS": '{"learning_rat": 0.1}'}, ["'learning_rat'", "learning_rate"]),
        ({"MLOPS_DATA_SPEC": json.dumps({**SPEC, "target": "label"})}, ["lacks", "label"]),
        ({"MLOPS_HOLDOUT_DATA": "/nonexistent/holdout.parquet"}, ["MLOPS_HOLDOUT_DATA"]),
        ({"MLFLOW_RUN_ID": ""}, ["MLFLOW_RUN_ID is not set"]),
        ({"MLOPS_PARAMS": '{"backend": "lightgbm"}'}, ["'lightgbm'", "auto, sklearn, xgboost"]),
        (
            {"MLOPS_PARAMS": '{"backend": "xgboost", "early_stopping": true}'},
            ["early_stopping", "'sklearn'"],
        ),
    ],
    ids=[
        "unknown-param",
        "missing-target",
        "unreadable-data",
        "missing-run-id",
        "unknown-backend",
        "xgboost-early-stopping",
    ],
)
def test_bad_environment_exits_2_before_touching_mlflow(
    small_demo: dict, tmp_path: Path, override: dict[str, str], expected: list[str]
) -> None:
    db = tmp_path / "mlflow.db"
    contract = _contract(small_demo, f"sqlite:///{db}", "0" * 32, **override)
    result = _run_trainer(**contract)
    assert result.returncode == 2
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()  # the run was never touched: the platform reports the failure


@pytest.mark.parametrize(
    ("environ", "device_node", "expected"),
    [
        ({}, True, "cuda"),  # bare metal / docker --gpus: the driver's device node decides
        ({}, False, "cpu"),
        ({"CUDA_VISIBLE_DEVICES": ""}, True, "cpu"),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, True, "cpu"),
        ({"CUDA_VISIBLE_DEVICES": "0"}, True, "cuda"),
        ({"CUDA_VISIBLE_DEVICES": "0"}, False, "cpu"),  # no driver in this container
        ({"CUDA_VISIBLE_DEVICES": "1,0"}, True, "cuda"),
        ({"CUDA_VISIBLE_DEVICES": "GPU-5f1c9e2a-0000-4000-8000-000000000000"}, True, "cuda"),
        ({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, True, "cpu"),
        ({"NVIDIA_VISIBLE_DEVICES": "all"}, True, "cuda"),
        ({"NVIDIA_VISIBLE_DEVICES": "void"}, True, "cpu"),
        ({"NVIDIA_VISIBLE_DEVICES": "none"}, True, "cpu"),
        ({"NVIDIA_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "-1"}, True, "cpu"),
    ],
)
def test_pick_device(
    trainer: ModuleType, environ: dict[str, str], device_node: bool, expected: str
) -> None:
    assert trainer.pick_device(environ, device_node) == expected


@pytest.mark.usefixtures("one_thread")
def test_a_gpu_that_cannot_start_is_recorded_as_the_cpu(
    trainer: ModuleType, small_demo: dict
) -> None:
    """xgboost falls back to the CPU with a warning only; the run's device param must not lie."""
    import glob

    import pandas as pd
    import xgboost

    if (
        xgboost.build_info()["USE_CUDA"]
        and trainer.pick_device(os.environ, bool(glob.glob("/dev/nvidia[0-9]*"))) == "cuda"
    ):
        pytest.skip("a GPU may really be usable here")
    data = pd.read_parquet(small_demo[f"batches/{REF}"])
    x = data[SPEC["categorical"] + SPEC["numeric"]]
    for backend, device in [("xgboost", "cuda"), ("xgboost", "cpu"), ("sklearn", "cpu")]:
        params = {**trainer.DEFAULT_PARAMS, "backend": backend, "max_iter": 5}
        with pytest.warns(UserWarning) if device == "cuda" else contextlib.nullcontext():
            model = trainer.build_model(SPEC, params, device).fit(x, data.churned)
        assert trainer.device_used(model) == "cpu"


def test_auto_backend_is_xgboost_when_installed_else_sklearn(
    trainer: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert trainer.resolve_backend("auto") == "xgboost"  # the dev extra installs xgboost-cpu
    assert trainer.resolve_backend("sklearn") == "sklearn"
    monkeypatch.setattr(trainer.importlib.util, "find_spec", lambda name: None)
    assert trainer.resolve_backend("auto") == "sklearn"
    with pytest.raises(SystemExit) as exited:
        trainer.resolve_backend("xgboost")
    assert exited.value.code == 2
    assert "xgboost is not installed" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["sklearn", "xgboost"])
@pytest.mark.parametrize("task", ["binary_classification", "regression"])
@pytest.mark.usefixtures("one_thread")
def test_model_round_trips_through_skops_with_only_the_trusted_types(
    trainer: ModuleType, small_demo: dict, backend: str, task: str
) -> None:
    """What mlflow.sklearn does on save and load, for the combinations no run covers."""
    import pandas as pd
    import skops.io

    data = pd.read_parquet(small_demo[f"batches/{REF}"])
    spec = {**SPEC, "task": task}
    params = {**trainer.DEFAULT_PARAMS, "backend": backend, "max_iter": 20}
    x = data[SPEC["categorical"] + SPEC["numeric"]]
    model = trainer.build_model(spec, params).fit(x, data.churned)
    blob = skops.io.dumps(model)
    assert set(skops.io.get_untrusted_types(data=blob)) <= set(trainer.SKOPS_TRUSTED_TYPES[backend])
    loaded = skops.io.loads(blob, trusted=trainer.SKOPS_TRUSTED_TYPES[backend])
    assert (loaded.predict(x) == model.predict(x)).all()


@pytest.mark.usefixtures("one_thread")
def test_default_backend_is_deterministic(trainer: ModuleType, small_demo: dict) -> None:
    import pandas as pd

    data = pd.read_parquet(small_demo[f"batches/{REF}"])
    x = data[SPEC["categorical"] + SPEC["numeric"]]
    first, again = (
        trainer.build_model(SPEC, trainer.DEFAULT_PARAMS).fit(x, data.churned).predict_proba(x)
        for _ in range(2)
    )
    assert (first == again).all()


def _hashes(paths: dict) -> dict[str, str]:
    return {key: hashlib.sha256(Path(p).read_bytes()).hexdigest() for key, p in paths.items()}


def test_generator_is_deterministic(generator: ModuleType, tmp_path: Path) -> None:
    first = _hashes(generator.generate(tmp_path / "a", rows=3000, seed=7))
    again = _hashes(generator.generate(tmp_path / "b", rows=3000, seed=7))
    other = _hashes(generator.generate(tmp_path / "c", rows=3000, seed=8))
    assert len(first) == 6  # batches, inference logs and labels of both weeks
    assert first == again
    assert not set(first.values()) & set(other.values())


@pytest.mark.parametrize("backend", ["sklearn", "xgboost"])
def test_generated_periods_drift_and_the_old_model_degrades(
    generator: ModuleType, trainer: ModuleType, tmp_path: Path, backend: str
) -> None:
    import pandas as pd
    from scipy import stats
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    paths = generator.generate(tmp_path, rows=10000, seed=7)
    old, new = (pd.read_parquet(paths[f"batches/{dt}"]) for dt in (REF, NEW))
    served_ref = pd.read_parquet(paths[f"inference_logs/{REF}"])
    assert "churned" not in served_ref.columns
    assert served_ref["request_id"].is_unique

    assert stats.ks_2samp(old.monthly_charges, new.monthly_charges).pvalue < 1e-6
    assert stats.ks_2samp(old.monthly_charges, served_ref.monthly_charges).pvalue > 1e-3
    contracts = pd.crosstab(
        pd.concat([old.contract, new.contract]), [0] * len(old) + [1] * len(new)
    )
    assert stats.chi2_contingency(contracts).pvalue < 1e-6

    params = {**trainer.DEFAULT_PARAMS, "backend": backend, "max_iter": 100}
    features = SPEC["categorical"] + SPEC["numeric"]
    (old_train, old_test), (new_train, new_test) = (
        train_test_split(df, test_size=0.3, random_state=0) for df in (old, new)
    )
    with threadpool_limits(1):  # OpenMP threads crawl when the CPUs are shared (CI)
        old_model = trainer.build_model(SPEC, params).fit(old_train[features], old_train.churned)
        new_model = trainer.build_model(SPEC, params).fit(new_train[features], new_train.churned)

    def auc(model: object, df: pd.DataFrame) -> float:
        return roc_auc_score(df.churned, model.predict_proba(df[features])[:, 1])

    old_on_old, old_on_new = auc(old_model, old_test), auc(old_model, new_test)
    new_on_new = auc(new_model, new_test)
    assert 0.75 < old_on_old < 0.88
    assert new_on_new - old_on_new > 0.03, (old_on_old, old_on_new, new_on_new)
