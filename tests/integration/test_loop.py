"""The whole continuous-training loop, for real: DagBag parse of the loader, `dag.test()` on
SQLite, the reference trainer as a subprocess, and a local MLflow store. Nothing is mocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .airflow_helpers import aliases, load_dags, registry, run

pytestmark = pytest.mark.integration


def audit_events(project: Path) -> list[str]:
    lines = (project / ".mlops" / "pipelines" / "churn" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


def audit_entries(project: Path, event: str) -> list[dict]:
    lines = (project / ".mlops" / "pipelines" / "churn" / "audit.jsonl").read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if entry["event"] == event]


def retrain_requests() -> list[dict]:
    return asset_events("mlops://churn/retrain-request")


def asset_events(uri: str) -> list[dict]:
    """Extras of the Asset events Airflow recorded for uri."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == uri)
        )
        return [dict(extra) for extra in session.scalars(query)]


def test_loop_train_monitor_retrain_rollback(project: Path, airflow_db: None) -> None:
    dags = load_dags(project)
    assert {"churn__training", "churn__monitoring", "churn__rollback"} <= set(dags)

    # 1. Cold start: no champion, so train, pass the gate on value bounds, promote v1.
    states = run(dags["churn__training"], "2026-11-01")
    assert states["retrain"] == "success" and states["skip_retrain"] == "skipped"
    assert states["canary_promote"] == "success" and states["reject"] == "skipped"
    client = registry(project)
    assert aliases(client) == {"champion": "1"}  # `challenger` dropped once promoted
    v1 = client.get_model_version("churn", "1")
    for tag in (
        "mlops.snapshot_id",
        "mlops.code_commit",
        "mlops.params_hash",
        "mlops.dag_id",
        "mlops.run_id",
        "mlops.task_id",
        "mlops.train_data",
    ):
        assert v1.tags.get(tag), tag
    assert Path(v1.tags["mlops.train_data"]).is_file()
    manifest = json.loads((Path(v1.tags["mlops.train_data"]).parent / "manifest.json").read_text())
    assert manifest["snapshot_id"] == v1.tags["mlops.snapshot_id"] and manifest["rows"] > 0
    assert [
        f["uri"].endswith("part-0.parquet") and f["bytes"] > 0 for f in manifest["source_files"]
    ] == [True]
    validated = asset_events("mlops://churn/validated-batch")  # the DB is shared by tests
    assert v1.tags["mlops.snapshot_id"] in {event["snapshot_id"] for event in validated}
    # The drift reference was fitted at training: features + the model's holdout predictions,
    # in storage and as an artifact of v1's MLflow run.
    profile = json.loads(Path(v1.tags["mlops.drift_profile"]).read_text())
    assert set(profile["columns"]) == {
        "tenure_months", "monthly_charges", "total_charges", "support_calls",
        "contract", "payment_method", "internet_service",
    }  # fmt: skip
    assert profile["prediction"]["kind"] == "numeric"
    artifacts = {a.path for a in client.list_artifacts(v1.run_id, "drift")}
    assert "drift/drift_profile.json" in artifacts

    # 2. Stable serving data: healthy, no retrain request.
    states = run(dags["churn__monitoring"], "2026-11-01")
    assert states["healthy"] == "success" and states["request_retraining"] == "skipped"

    # 3. Drifted serving data: retrain requested and the alert sent (logged: no Slack here).
    states = run(dags["churn__monitoring"], "2026-11-08")
    assert states["request_retraining"] == "success" and states["alert"] == "success"
    (event,) = retrain_requests()
    assert event["reason"].startswith("drift in ") and event["report"].endswith("drift.html")
    # detect_drift compared the window with v1's stored profile, not its training data.
    checks = audit_entries(project, "drift_checked")
    drift = next(e["details"] for e in checks if e["details"].get("dataset_drift"))
    assert drift["reference"] == v1.tags["mlops.drift_profile"]
    assert drift["top"][0]["drifted"] and drift["top"][0]["feature"] in drift["drifted_features"]
    # the window was scored by the champion, so the model's outputs were tested too
    assert Path(drift["report_json"]).is_file() and drift["prediction_drift"] in (True, False)
    # each monitoring run so far (stable, drifted) logged its report to the champion's run
    runs = [a.path for a in client.list_artifacts(v1.run_id, "drift/churn__monitoring")]
    assert len(runs) == 2
    logged = {a.path.rsplit("/", 1)[1] for a in client.list_artifacts(v1.run_id, runs[0])}
    assert logged == {"drift.json", "drift.html"}

    # 3b. The same incident an hour later: alert again, but no second retrain request.
    states = run(dags["churn__monitoring"], "2026-11-08T01:00:00")
    assert states["alert"] == "success" and states["request_retraining"] == "skipped"
    assert len(retrain_requests()) == 1

    # 4. Training on the drifted batch: drift found against v1's training data, v2 trained
    #    and judged against v1 on the same holdout.
    states = run(dags["churn__training"], "2026-11-08")
    assert states["retrain"] == "success"
    v2 = client.get_model_version("churn", "2")
    # The seeded data has a concept change, so v2 beats v1 on the new holdout.
    assert v2.tags["mlops.gate"] == "promote", v2.tags.get("mlops.gate_reasons")
    assert v2.tags["mlops.snapshot_id"] != v1.tags["mlops.snapshot_id"]
    assert aliases(client) == {"champion": "2", "previous_champion": "1"}
    run_metrics = client.get_run(v2.run_id).data.metrics
    assert "gate.roc_auc" in run_metrics and "gate.champion.roc_auc" in run_metrics

    # 5. Rollback to v1 explicitly, twice: the second run moves nothing.
    run(dags["churn__rollback"], "2026-11-09", conf={"version": "1"})
    assert aliases(client)["champion"] == "1"
    run(dags["churn__rollback"], "2026-11-10", conf={"version": "1"})
    assert aliases(client)["champion"] == "1"
    assert len(client.search_model_versions("name='churn'")) == 2

    events = audit_events(project)
    assert events.count("trained") == 2 and events.count("gated") == 2
    assert events.count("retrain_requested") == 1 and "validated" in events
    assert events.count("rolled_back") == 1 and events.count("promoted") == 2
