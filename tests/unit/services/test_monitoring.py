"""services/monitoring.py and services/health.py: windows, live performance, the decision with
its cooldown, the status the health report reads, the retrain request and the alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION
from airflow_mlops_provider.services import health, monitoring
from airflow_mlops_provider.spec import DataSpec, EvaluationSpec, MonitoringSpec

MONITORING = MonitoringSpec.model_validate(
    {
        "source": "logs/dt={{ ds }}",
        "labels": "labels/dt={{ ds }}",
        "performance": {"metric": "accuracy", "min": 0.7, "min_labelled_rows": 50},
        "cooldown_hours": 24,
    }
)
DATA = DataSpec.model_validate(
    {
        "source": "lake",
        "target": "y",
        "features": {"numeric": ["x"]},
        "split": {"time_column": "t"},
    }
)
EVALUATION = EvaluationSpec.model_validate({"metrics": {"accuracy": {"min": 0.5}}})
ROUTES = monitoring.DecisionRoutes(["request_retraining", "alert"], "alert", "healthy")
DRIFTED = {"dataset_drift": True, "drifted_features": ["x"], "report": "r.html", "top": []}


def decide(rt, drift=None, performance=None, since=None, window="2026-11-02"):
    return monitoring.decide(
        rt,
        drift=drift,
        performance=performance,
        monitoring=MONITORING,
        routes=ROUTES,
        window=window,
        requested_since=since,
    )


def test_nothing_wrong_is_healthy_and_becomes_the_latest_status(rt, audit) -> None:
    decision = decide(rt, drift={"dataset_drift": False, "drifted_features": []})
    assert decision.route == "healthy" and decision.to_xcom()["status"] == "healthy"
    latest = json.loads(Path(rt.layout.monitoring_status).read_text())
    assert (latest["status"], latest["window"], latest["run_id"]) == (
        "healthy",
        "2026-11-02",
        rt.task.run_id,
    )
    assert audit(rt)[0]["event"] == "monitoring_decided"


def test_drift_requests_retraining_unless_one_was_requested_recently(rt) -> None:
    asked: list[datetime] = []

    def none_since(since: datetime) -> None:
        asked.append(since)

    decision = decide(rt, drift=DRIFTED, since=none_since)
    assert decision.route == ["request_retraining", "alert"]
    assert decision.to_xcom()["retrain_requested"] is True
    hours = (datetime.now(UTC) - asked[0]).total_seconds() / 3600
    assert 23.9 < hours < 24.1  # monitoring.cooldown_hours

    def recent(since: datetime) -> datetime:
        return datetime(2026, 11, 2, 3, tzinfo=UTC)

    cooled = decide(rt, drift=DRIFTED, since=recent)
    assert cooled.route == "alert" and cooled.to_xcom()["status"] == "cooldown"
    assert (
        "already requested at 2026-11-02 03:00:00+00:00 (cooldown 24 h)"
        in (cooled.to_xcom()["cooldown"])
    )


def test_decay_alone_also_requests_retraining(rt) -> None:
    decayed = {"status": "decayed", "reason": "accuracy 0.6 < 0.7", "metric": "accuracy"}
    decision = decide(rt, drift={"dataset_drift": False}, performance=decayed)
    assert decision.route == ["request_retraining", "alert"]
    assert decision.to_xcom()["causes"] == ["performance"]


def test_an_older_window_does_not_replace_the_latest_status(rt) -> None:
    health.write_status(rt, {"status": "healthy", "reason": "new"}, window="2026-11-05")
    health.write_status(rt, {"status": "retrain", "reason": "old"}, window="2026-10-01")
    assert json.loads(Path(rt.layout.monitoring_status).read_text())["reason"] == "new"


def test_an_empty_window_is_skipped_and_recorded(rt, tmp_path, audit) -> None:
    window = monitoring.collect_window(
        rt,
        locations=[str(tmp_path / "logs" / "dt=2026-11-01")],
        monitoring=MONITORING,
        features=["x"],
        window="2026-11-01",
    )
    assert window.skipped.startswith("no inference logs in this window (looked at ")
    assert audit(rt)[0]["event"] == "empty_window"
    assert json.loads(Path(rt.layout.monitoring_status).read_text())["status"] == "no_data"


def test_logs_without_predictions_are_scored_by_the_champion(rt, registry, tmp_path) -> None:
    logs = tmp_path / "logs" / "dt=2026-11-01"
    logs.mkdir(parents=True)
    pd.DataFrame({"request_id": ["a", "b"], "x": [0.2, 0.9]}).to_parquet(logs / "p.parquet")
    registry.add_version("4")
    registry.set_alias(CHAMPION, "4")
    registry.models["models:/churn/4"] = SimpleNamespace(predict=lambda f: f["x"].to_numpy())
    window = monitoring.collect_window(
        rt, locations=[str(logs)], monitoring=MONITORING, features=["x"], window="w"
    )
    assert window.scored_with == "4" and window.rows == 2
    assert pd.read_parquet(window.window_uri)["prediction"].tolist() == [0.2, 0.9]


def test_live_performance_on_the_labelled_requests(rt, tmp_path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    truth = rng.integers(0, 2, n)
    served = np.where(rng.random(n) < 0.6, truth, 1 - truth)  # about 60% right: decayed
    window = pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "prediction": served})
    uri = rt.storage.write_frame(window, str(tmp_path / "w.parquet"))
    labels = tmp_path / "labels"
    labels.mkdir()
    pd.DataFrame({"request_id": window["request_id"], "y": truth}).to_parquet(labels / "l.parquet")

    result = monitoring.live_performance(
        rt,
        labels="labels",
        window_uri=uri,
        data=DATA,
        evaluation=EVALUATION,
        monitoring=MONITORING,
    )
    assert result.assessed and result.summary["status"] == "decayed"
    assert Path(result.summary["report"]).exists()

    missing = monitoring.live_performance(
        rt, labels="nowhere", window_uri=uri, data=DATA, evaluation=EVALUATION,
        monitoring=MONITORING,
    )  # fmt: skip
    assert not missing.assessed and missing.summary["reason"].startswith("no labels yet at ")


def test_retrain_request_and_alert_carry_the_reason(rt, sent, audit) -> None:
    decision = decide(rt, drift=DRIFTED, since=lambda since: None).to_xcom()
    extra = monitoring.request_retraining(rt, decision=decision, batch="2026-11-08")
    assert extra == {
        "batch": "2026-11-08",
        "reason": decision["reason"],
        "causes": ["drift"],
        "report": "r.html",
        "performance_report": None,
        "source_run_id": rt.task.run_id,
    }
    alert = monitoring.alert(rt, decision=decision)
    assert alert["status"] == "sent" and sent == [alert["text"]] and "r.html" in alert["text"]
    assert [line["event"] for line in audit(rt)] == [
        "monitoring_decided",
        "retrain_requested",
        "notified",
    ]


def test_health_report_combines_status_and_registry(rt, registry, sent) -> None:
    health.write_status(rt, {"status": "healthy", "reason": "ok"}, window="2026-11-02")
    registry.add_version("1", **{"mlops.gate": "promote"})
    registry.add_version("2", **{"mlops.gate": "reject"})
    registry.set_alias(CHAMPION, "1")
    report = health.health_report(rt)
    document = json.loads(Path(report["report"]).read_text())
    assert document["champion"]["version"] == "1"
    assert document["last_training"] == {
        "version": "2",
        "created": "1970-01-01T00:00:00+00:00",
        "gate": "reject",
    }
    assert document["monitoring"]["status"] == "healthy" and sent == [report["text"]]


def test_a_released_request_does_not_count_for_the_cooldown() -> None:
    """A requested training run that failed before training released its request (by the
    monitoring run that made it): the next drifted window asks again."""
    t1, t2 = datetime(2026, 11, 8, 1, tzinfo=UTC), datetime(2026, 11, 8, 2, tzinfo=UTC)
    requests = [(t1, {"source_run_id": "m1"}), (t2, {"source_run_id": "m2"})]
    assert monitoring.newest_pending_request(requests, []) == t2
    assert monitoring.newest_pending_request(requests, [{"source_run_ids": ["m2"]}]) == t1
    assert monitoring.newest_pending_request(requests, [{"source_run_ids": ["m1", "m2"]}]) is None
    assert monitoring.newest_pending_request([], []) is None


def test_release_names_the_requests_and_is_audited(rt, audit) -> None:
    requests = [{"source_run_id": "m2"}, {"source_run_id": "m1"}, {"reason": "old event"}]
    extra = monitoring.release_requests(rt, requests=requests)
    assert extra == {"source_run_ids": ["m1", "m2"], "run_id": rt.task.run_id}
    assert monitoring.release_requests(rt, requests=[{"reason": "no source"}]) is None
    assert [line["event"] for line in audit(rt)] == ["retrain_request_released"]
