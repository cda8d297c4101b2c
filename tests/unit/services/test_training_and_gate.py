"""services/training.py, services/evaluation.py and services/approval.py with stand-in models
(plain predict functions) and a stand-in trainer; the real trainer, MLflow and pods run in
tests/integration."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.adapters.mlflow_registry import CHALLENGER, CHAMPION
from airflow_mlops_provider.exceptions import MlopsConfigError, TrainingError
from airflow_mlops_provider.services import approval, evaluation, training
from airflow_mlops_provider.services.references import PROFILE_TAG
from airflow_mlops_provider.services.runtime import GATE_REPORT_LINK, MLFLOW_RUN_LINK
from airflow_mlops_provider.spec import ApprovalSpec, DataSpec, EvaluationSpec, TrainingSpec

DATA = DataSpec.model_validate(
    {
        "source": "lake",
        "target": "y",
        "features": {"numeric": ["x"], "categorical": ["g"]},
        "split": {"time_column": "t"},
    }
)
TRAINING = TrainingSpec.model_validate({"params": {"max_iter": 5}, "env": {"OMP_NUM_THREADS": "1"}})
GATE = EvaluationSpec.model_validate(
    {"metrics": {"roc_auc": {"min": 0.6, "max_regression": 0.05}}, "on_missing_champion": "promote"}
)


def rows(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame(
        {"x": x, "g": rng.choice(["a", "b"], n), "y": (x + rng.normal(0, 0.5, n) > 0).astype(int)}
    )


def model(noise: float) -> Any:
    """A stand-in pyfunc: scores from x, blurred by `noise`."""
    rng = np.random.default_rng(1)
    return SimpleNamespace(
        predict=lambda f: 1 / (1 + np.exp(-(f["x"].to_numpy() + rng.normal(0, noise, len(f)))))
    )


class Trainer:
    """Stands in for LocalTrainer/PodTrainer; sees what the service published before it."""

    image = "local:test"

    def __init__(self, registry, published: dict, digest: str | None = None) -> None:
        self.registry, self.published, self.digest = registry, published, digest
        self.calls: list[tuple[dict, dict]] = []

    def run(self, env: dict[str, str], client_env: dict[str, str]) -> str | None:
        assert MLFLOW_RUN_LINK in self.published  # the run link exists before training
        self.calls.append((env, client_env))
        return self.digest


@pytest.fixture
def snapshot(rt) -> dict[str, str]:
    frame = rows()
    return {
        "snapshot_id": "snap1",
        "train_uri": rt.storage.write_frame(frame.iloc[:300], rt.task_folder("train.parquet")),
        "holdout_uri": rt.storage.write_frame(frame.iloc[300:], rt.task_folder("holdout.parquet")),
    }


def train(rt, registry, published, snapshot, digest=None) -> tuple[Any, Trainer]:
    registry.models["models:/churn/1"] = model(0.1)
    trainer = Trainer(registry, published, digest)
    trained = training.train_and_register(
        rt,
        snapshot=snapshot,
        training=TRAINING,
        data=DATA,
        experiment="churn",
        ui_url="http://mlflow:5000/",
        trainer=trainer,
    )
    return trained, trainer


def test_training_runs_under_the_contract_and_registers_with_lineage(
    rt, registry, published, snapshot, audit
) -> None:
    trained, trainer = train(rt, registry, published, snapshot, digest="img@sha256:ab")
    assert published[MLFLOW_RUN_LINK] == "http://mlflow:5000/#/experiments/exp-1/runs/run-1"
    ((env, client_env),) = trainer.calls
    assert env["MLFLOW_RUN_ID"] == "run-1" and env["MLOPS_TRAIN_DATA"] == snapshot["train_uri"]
    assert json.loads(env["MLOPS_PARAMS"]) == {"max_iter": 5} and env["OMP_NUM_THREADS"] == "1"
    assert "MLFLOW_TRACKING_PASSWORD" not in env  # credentials only in the client's own env
    assert client_env["MLFLOW_TRACKING_PASSWORD"] == "pw"
    version = registry.get_version(trained.version)
    assert version.tags["mlops.image_digest"] == "img@sha256:ab"  # what the pod reported
    assert version.tags["mlops.snapshot_id"] == "snap1"
    assert version.tags["mlops.dag_id"] == "churn__training"
    assert version.tags[PROFILE_TAG] == trained.drift_profile
    assert Path(trained.drift_profile).exists()
    assert audit(rt)[0]["event"] == "trained" and trained.trained is True


def test_a_finished_run_without_a_version_is_only_registered(
    rt, registry, published, snapshot
) -> None:
    registry.attempt = ("run-7", "register")
    trained, trainer = train(rt, registry, published, snapshot)
    assert trainer.calls == [] and trained.trained is False and trained.run_id == "run-7"


def test_a_trainer_that_leaves_its_run_open_fails_the_step(
    rt, registry, published, snapshot
) -> None:
    registry.runs["run-1"] = SimpleNamespace(
        info=SimpleNamespace(status="RUNNING"), data=SimpleNamespace(tags={})
    )
    with pytest.raises(TrainingError, match="is RUNNING, not FINISHED"):
        train(rt, registry, published, snapshot)


def test_the_gate_promotes_a_first_model_and_records_everything(
    rt, registry, published, audit
) -> None:
    registry.add_version("1")
    registry.models["models:/churn/1"] = model(0.1)
    holdout = rt.storage.write_frame(rows(seed=3), rt.task_folder("holdout.parquet"))
    gate = evaluation.evaluate_challenger(
        rt,
        challenger={"version": "1", "run_id": "run-1", "model_uri": "models:/churn/1"},
        holdout_uri=holdout,
        data=DATA,
        evaluation=GATE,
        approval=ApprovalSpec(mode="never"),
    )
    assert gate.decision == "promote" and gate.to_xcom()["champion"] is None
    assert registry.aliases() == {CHALLENGER: "1"}
    assert published[GATE_REPORT_LINK] == gate.result["report"]
    assert registry.metrics["run-1"]["gate.roc_auc"] > 0.8
    assert set(registry.texts["run-1"]) == {"gate/gate.html", "gate/gate.json"}
    assert registry.get_version("1").tags["mlops.gate"] == "promote"
    assert audit(rt)[0]["details"]["decision"] == "promote"


def test_the_gate_compares_with_the_champion_and_rejects_a_worse_model(rt, registry) -> None:
    registry.add_version("1")
    registry.add_version("2")
    registry.set_alias(CHAMPION, "1")
    registry.models["models:/churn/1"] = model(0.1)
    registry.models["models:/churn/2"] = model(3.0)  # much blurrier: lower ROC AUC
    holdout = rt.storage.write_frame(rows(seed=3), rt.task_folder("holdout.parquet"))
    gate = evaluation.evaluate_challenger(
        rt,
        challenger={"version": "2", "run_id": "run-2", "model_uri": "models:/churn/2"},
        holdout_uri=holdout,
        data=DATA,
        evaluation=GATE,
        approval=ApprovalSpec(mode="never"),
    )
    assert gate.decision == "reject" and gate.result["champion"] == "1"


def test_a_golden_set_without_the_features_is_a_config_error(rt, registry) -> None:
    holdout = rt.storage.write_frame(rows().drop(columns=["g"]), rt.task_folder("h.parquet"))
    with pytest.raises(MlopsConfigError, match=r"lacks column\(s\) g;"):
        evaluation.evaluate_challenger(
            rt,
            challenger={"version": "1", "run_id": "r", "model_uri": "m"},
            holdout_uri=holdout,
            data=DATA,
            evaluation=GATE,
            approval=ApprovalSpec(),
        )


def test_approval_request_and_answer_are_recorded(rt, registry, sent, audit) -> None:
    registry.add_version("5")
    registry.models["models:/churn/5"] = model(0.1)
    settings = ApprovalSpec(mode="always", timeout_hours=2, on_timeout="reject")
    gate = evaluation.evaluate_challenger(
        rt,
        challenger={"version": "5", "run_id": "run-5", "model_uri": "models:/churn/5"},
        holdout_uri=rt.storage.write_frame(rows(seed=3), rt.task_folder("holdout.parquet")),
        data=DATA,
        evaluation=GATE,
        approval=settings,
    ).to_xcom()
    assert gate["decision"] == "approval"
    request = approval.request_approval(rt, gate=gate, approval=settings, url="http://ui/ti")
    score = gate["risk"]["score"]
    assert request.subject == f"Promote churn v5? (risk score {score:.2f})"
    assert request.body.endswith("No answer within 2 h: **reject**.")
    assert "http://ui/ti" in sent[0]
    answer = approval.record_answer(
        rt, gate=gate, approval=settings, approved=False, choice="Reject", responder=None,
        responded_at="2026-11-02",
    )  # fmt: skip
    assert answer == {
        "decision": "rejected",
        "version": "5",
        "reason": "timeout (approval.on_timeout=reject)",
    }
    tags = registry.get_version("5").tags
    assert tags["mlops.rejected_by"] == answer["reason"] and tags["mlops.decision"] == "rejected"
    assert [line["event"] for line in audit(rt)] == ["gated", "approval_requested", "rejected"]
