"""Acceptance of the evaluation gate on real models trained by the reference trainer.

1. Seeded trials (in-process, the trainer's own label knobs and model, the gate's core): a
   deliberately worse challenger (`label_noise`) is rejected for every seed, a better one is
   promoted, and a fairness-risky one (`bias_group`/`bias_rate`: its gap passes the soft limit,
   or its interval reaches the hard one) is sent to a person.
2. The same through real DAG runs (`dag.test()`, trainer subprocess, MLflow store): a better
   challenger is promoted, a worse one rejected, with the gate report, MLflow metrics/tags and
   audit entries checked. (The "approval" path through a real Airflow API is in
   test_approval_rest.py: under `dag.test()` a HITL task waits forever.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from .airflow_helpers import aliases, load_dags, registry, run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEEDS = (0, 1, 2)
WORSE = {"label_noise": 0.3}
WEAK_CHAMPION = {"label_noise": 0.2}
UNFAIR = {"bias_group": "payment_method=mailed-check", "bias_rate": 0.35}


@pytest.fixture(scope="module")
def trial(demo_data: Path):
    """Train with the reference trainer in-process; judge with the example's gate, through the
    same core function EvaluateOperator calls (the pipeline's predict_proba, not a pyfunc)."""
    sys.path.insert(0, str(ROOT / "include" / "trainer"))
    import train as trainer

    from airflow_mlops_provider.core.evaluation import evaluate
    from airflow_mlops_provider.core.snapshot import time_split
    from airflow_mlops_provider.spec import load_spec

    spec = load_spec(ROOT / "dags" / "churn.yaml")
    data = spec.data
    frame = pd.read_parquet(demo_data / "batches" / "dt=2026-11-01")
    train, holdout = time_split(frame, data.split.time_column, data.split.holdout_fraction)
    model_spec = {
        "target": data.target,
        "numeric": data.features.numeric,
        "categorical": data.features.categorical,
        "task": data.task,
    }

    def model(**params: object) -> object:
        params = {**trainer.DEFAULT_PARAMS, **params}
        labels = trainer.perturb_labels(train, data.target, params, data.task)
        return trainer.build_model(model_spec, params).fit(train[data.features.all], labels)

    def decide(challenger: object, champion: object) -> dict:
        return evaluate(
            holdout=holdout,
            challenger=challenger.predict_proba,
            champion=champion.predict_proba,
            data=data,
            evaluation=spec.evaluation,
            approval=spec.approval,
        )

    return model, decide


@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_trials(trial, seed: int) -> None:
    model, decide = trial
    champion = model(random_state=seed)
    worse = decide(model(**WORSE, random_state=seed), champion)
    assert worse["decision"] == "reject", worse["reasons"]
    assert any("roc_auc regression" in reason for reason in worse["reasons"])

    weak_champion = model(**WEAK_CHAMPION, random_state=seed)
    better = decide(champion, weak_champion)
    assert better["decision"] == "promote", better["reasons"]

    unfair = decide(model(**UNFAIR, random_state=seed), weak_champion)
    assert unfair["decision"] == "approval", unfair["reasons"]
    factors = unfair["risk"]["factors"]
    gaps = [c for c in unfair["checks"] if c["name"].startswith("fairness.")]
    # the gap is past the soft limit, or the holdout cannot tell it from the hard limit
    assert factors.get("fairness", 0) >= 0.5 or any(c["verdict"] == "uncertain" for c in gaps)
    assert factors["regression"] == 0


def write_pipeline(project: Path, params: str) -> dict:
    path = project / "dags" / "churn.yaml"
    # The gate is under test: promotion is direct (canaries are test_canary.py's).
    text = path.read_text().replace("canary:\n  enabled: true", "canary:\n  enabled: false")
    start = text.index("  params: {")
    end = text.index("\n", start)
    path.write_text(text[:start] + f"  params: {params}" + text[end:])
    return load_dags(project)


def test_dag_runs_promote_the_better_and_reject_the_worse(project: Path, airflow_db: None) -> None:
    client = registry(project)
    # v1: a weak first model (noisy labels); cold start, promoted
    dags = write_pipeline(project, "{label_noise: 0.2, random_state: 1}")
    run(dags["churn__training"], "2026-11-01")
    # v2: trained on clean labels: better on the same holdout, promoted
    dags = write_pipeline(project, "{random_state: 1}")
    states = run(dags["churn__training"], "2026-11-01T01:00:00", conf={"force_retrain": True})
    assert states["canary_promote"] == "success" and states["approve"] == "skipped"
    assert aliases(client)["champion"] == "2"
    # v3: deliberately worse, judged on a fixed golden set (csv): rejected, the champion stays
    golden = project / "golden.csv"
    holdout = pd.read_parquet(client.get_model_version("churn", "2").tags["mlops.holdout_data"])
    holdout.to_csv(golden, index=False)
    text = (project / "dags" / "churn.yaml").read_text()
    (project / "dags" / "churn.yaml").write_text(
        text.replace(
            "  on_missing_champion: promote", f"  holdout: {golden}\n  on_missing_champion: promote"
        )
    )
    dags = write_pipeline(project, "{label_noise: 0.3, random_state: 1}")
    states = run(dags["churn__training"], "2026-11-01T02:00:00", conf={"force_retrain": True})
    assert states["reject"] == "success" and states["canary_promote"] == "skipped"
    assert aliases(client)["champion"] == "2"

    v2, v3 = (client.get_model_version("churn", v) for v in ("2", "3"))
    assert v2.tags["mlops.gate"] == "promote" and v3.tags["mlops.gate"] == "reject"
    assert v3.tags["mlops.decision"] == "rejected"
    assert "roc_auc regression" in v3.tags["mlops.gate_reasons"]
    assert float(v3.tags["mlops.risk_score"]) >= 0
    report = Path(v3.tags["mlops.gate_report"])
    html = report.read_text()
    assert "Decision: reject" in html and "payment_method=mailed-check" in html
    document = json.loads((report.parent / "gate.json").read_text())
    assert document["champion"] == "2" and document["disagreement"] > 0
    assert document["holdout"] == str(golden) and document["holdout_rows"] == len(holdout)
    assert document["latency"]["challenger"]["p95_ms"] > 0
    metrics = client.get_run(v3.run_id).data.metrics
    for key in ("gate.roc_auc", "gate.champion.roc_auc", "gate.disagreement", "gate.risk_score"):
        assert key in metrics, key
    assert "gate.fairness.demographic_parity_difference" in metrics
    artifacts = {a.path for a in client.list_artifacts(v3.run_id, "gate")}
    assert artifacts == {"gate/gate.html", "gate/gate.json"}
    # every decision about v3 is in the audit log and mirrored as a tag on the version
    assert ": v3 rejected" in v3.tags["mlops.audit.rejected"], v3.tags
    assert ": gate: reject v3 vs champion v2" in v3.tags["mlops.audit.gated"], v3.tags
    assert "mlops.audit.trained" in v3.tags and "mlops.audit.promoted" in v2.tags
