"""The monitoring and health DAGs, for real: DagBag parse, `dag.test()` on SQLite, the
reference trainer for the champion, a local MLflow store, and a local HTTP endpoint standing
in for Slack's Web API (Slack itself cannot be reached from here; slack-sdk is not mocked).

Two pipelines share one champion (`mlflow.model_name`), each with its own retrain-request
Asset, so the cooldown of one does not hide the other's first request:
- `mon`: stable window (healthy, live metric ok), no labels yet, empty window, drifted week
  (drift + decay → one request, alert with the top features), then the daily health report;
- `mon_perf`: the stable window with outcomes that contradict the model — decay without drift
  requests retraining with a "performance" reason, and an hour later only alerts (cooldown).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest

from .airflow_helpers import load_dags, run

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STABLE, NO_LABELS, EMPTY, DRIFTED = "2026-11-01", "2026-11-03", "2026-11-05", "2026-11-08"


class _Slack(BaseHTTPRequestHandler):
    """chat.postMessage as Slack answers it; records the texts."""

    texts: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        payload = json.loads(body) if body.startswith("{") else parse_qs(body)
        _Slack.texts.append(payload["text"] if isinstance(payload["text"], str) else "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true, "channel": "C1", "ts": "1.0"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def slack_texts():
    server = HTTPServer(("127.0.0.1", 0), _Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = {
        "conn_type": "slack",
        "host": f"http://127.0.0.1:{server.server_port}/api/",
        "password": "xoxb-test-token",
    }
    os.environ["AIRFLOW_CONN_SLACK_MON"] = json.dumps(conn)
    yield _Slack.texts
    del os.environ["AIRFLOW_CONN_SLACK_MON"]
    server.shutdown()


@pytest.fixture(scope="module")
def data(demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's demo data plus the days these scenarios need."""
    out = tmp_path_factory.mktemp("monitoring-data")
    for kind in ("batches", "inference_logs", "labels"):
        shutil.copytree(demo_data / kind, out / kind)
    stable_logs = out / "inference_logs" / f"dt={STABLE}"
    shutil.copytree(stable_logs, out / "inference_logs" / f"dt={NO_LABELS}")  # labels not in
    (out / "inference_logs" / f"dt={EMPTY}").mkdir()  # the partition exists, no file yet
    labels = pd.read_parquet(out / "labels" / f"dt={STABLE}")
    contradicting = out / "labels_contradicting" / f"dt={STABLE}"
    contradicting.mkdir(parents=True)
    labels.assign(churned=1 - labels["churned"]).to_parquet(contradicting / "part-0.parquet")
    return out


def pipeline_yaml(name: str, data: Path, labels: str = "labels") -> str:
    text = (ROOT / "dags" / "churn.yaml").read_text()
    for old, new in (
        ("pipeline: churn", f"pipeline: {name}"),
        ("min_rows: 1000", "min_rows: 100"),
        ("min: 0.74, min_labelled_rows", "min: 0.72, min_labelled_rows"),  # 4000-row data
        ("include/demo/data/labels/", f"{data}/{labels}/"),
        ("include/demo/data", str(data)),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text + (
        "\nmlflow: {model_name: mon}\n"
        'notifications: {slack: {connection_id: slack_mon, channel: "#ml-alerts"}}\n'
    )


@pytest.fixture(scope="module")
def project(data: Path, tmp_path_factory: pytest.TempPathFactory, airflow_db: None):
    """Both pipelines in one project, and champion v1 trained by mon__training on 11-01.

    dag.test() writes the DAG to the metadata DB from the configured dags-folder bundle, so
    that bundle points at this project while the module runs (the repo's dags/ has no `mon`)."""
    from airflow import settings

    root = tmp_path_factory.mktemp("monitoring-project")
    (root / "dags").mkdir()
    shutil.copy(ROOT / "dags" / "pipelines.py", root / "dags")
    (root / "dags" / "mon.yaml").write_text(pipeline_yaml("mon", data))
    (root / "dags" / "mon_perf.yaml").write_text(
        pipeline_yaml("mon_perf", data, "labels_contradicting")
    )
    shutil.copytree(ROOT / "include" / "trainer", root / "include" / "trainer")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(settings, "DAGS_FOLDER", str(root / "dags"))
        states = run(load_dags(root)["mon__training"], STABLE)
        assert states["canary_promote"] == "success"
        yield root


def audit(project: Path, pipeline: str) -> list[dict]:
    path = project / ".mlops" / "pipelines" / pipeline / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def last(project: Path, pipeline: str, event: str) -> dict:
    return [e for e in audit(project, pipeline) if e["event"] == event][-1]["details"]


def latest_status(project: Path, pipeline: str) -> dict:
    path = project / ".mlops" / "pipelines" / pipeline / "monitoring" / "latest.json"
    return json.loads(path.read_text())


def retrain_requests(pipeline: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == f"mlops://{pipeline}/retrain-request")
        )
        return [dict(extra) for extra in session.scalars(query)]


def test_monitoring_windows_alerts_and_health_report(project: Path, slack_texts: list) -> None:
    dags = load_dags(project)
    monitoring = dags["mon__monitoring"]

    # Stable week: the logs have no predictions, so the champion scores them; labels for
    # ~60% of the requests → live accuracy above the bound → healthy.
    states = run(monitoring, STABLE)
    assert states["healthy"] == "success" and states["live_performance"] == "success"
    assert states["request_retraining"] == states["alert"] == "skipped"
    live = last(project, "mon", "live_performance")
    assert live["status"] == "ok" and live["metric"] == "accuracy", live
    assert live["stats"]["labelled_rows"] >= 200 and set(live["metrics"]) >= {"roc_auc"}
    window = pd.read_parquet(latest_status(project, "mon")["drift"]["current"])
    assert window["prediction"].between(0, 1).all() and len(window) == 2000

    # Labels not arrived yet: live_performance is skipped saying so; drift alone decides.
    states = run(monitoring, NO_LABELS)
    assert states["live_performance"] == "skipped" and states["healthy"] == "success"
    skipped = last(project, "mon", "live_performance")
    assert skipped["status"] == "not_assessed"
    assert skipped["reason"].startswith("no labels yet at ") and NO_LABELS in skipped["reason"]
    assert latest_status(project, "mon")["performance"]["status"] == "not_assessed"

    # Empty window: a clear outcome, nothing downstream runs, recorded for the health report.
    states = run(monitoring, EMPTY)
    assert set(states.values()) == {"skipped"}
    assert "no inference logs in this window" in last(project, "mon", "empty_window")["reason"]
    assert latest_status(project, "mon")["status"] == "no_data"

    # Drifted week: drift and decay → one retrain request with both reasons, one alert.
    sent_before = len(slack_texts)
    states = run(monitoring, DRIFTED)
    assert states["request_retraining"] == states["alert"] == "success"
    assert states["healthy"] == "skipped"
    (event,) = retrain_requests("mon")
    assert event["reason"].startswith("drift in ") and event["causes"] == ["drift", "performance"]
    assert "performance: accuracy " in event["reason"] and "< min 0.72" in event["reason"]
    assert event["report"].endswith("drift.html") and Path(event["report"]).is_file()
    (alert,) = slack_texts[sent_before:]
    assert alert.startswith(":warning: mon: Drift and performance decay detected")
    assert "Top drifted features:" in alert and "monthly_charges" in alert
    assert "live metric: accuracy " in alert and "DECAYED" in alert
    assert event["report"] in alert

    # The daily report: latest decision, live metric, champion and last training.
    states = run(dags["mon__health"], "2026-11-09")
    assert states == {"health_report": "success"}
    report_text = slack_texts[-1]
    assert "mon: daily health report" in report_text
    assert "drift: DRIFT" in report_text and "monthly_charges" in report_text
    assert "live metric: accuracy " in report_text and "champion: v1 (since " in report_text
    assert "last training: v1 at " in report_text and "gate promote" in report_text
    report = json.loads(Path(last(project, "mon", "notified")["report"]).read_text())
    assert report["monitoring"]["status"] == "retrain" and report["champion"]["version"] == "1"
    assert "xoxb-test-token" not in json.dumps(audit(project, "mon"))


def test_decay_without_drift_requests_retraining_then_cools_down(
    project: Path, slack_texts: list
) -> None:
    monitoring = load_dags(project)["mon_perf__monitoring"]
    states = run(monitoring, STABLE)
    assert states["request_retraining"] == states["alert"] == "success"
    (event,) = retrain_requests("mon_perf")
    assert event["causes"] == ["performance"] and event["reason"].startswith("performance: ")
    decided = last(project, "mon_perf", "monitoring_decided")
    assert decided["status"] == "retrain" and "drift in" not in decided["reason"]
    assert slack_texts[-1].startswith(":warning: mon_perf: performance decay detected")

    # The same incident an hour later: alert again, no second request.
    states = run(monitoring, f"{STABLE}T01:00:00")
    assert states["alert"] == "success" and states["request_retraining"] == "skipped"
    assert len(retrain_requests("mon_perf")) == 1
    assert last(project, "mon_perf", "monitoring_decided")["status"] == "cooldown"
    assert "Retraining not requested again: retraining already requested" in slack_texts[-1]
