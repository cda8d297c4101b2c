"""The plugin's FastAPI app (FastAPI's TestClient) behind Airflow's own authentication:
who may read which report, which paths are served at all, and the same reports from S3
(moto's server over real HTTP).

The auth manager is a stand-in — Airflow's SimpleAuthManager with per-user DAG access, which
the real one does not have (its roles apply to every DAG) — and tokens are real JWTs signed
and checked by Airflow's own code, sent as the UI sends them (the `_token` cookie) or as a
Bearer header.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from airflow_mlops_provider.plugins.catalog import Catalog  # noqa: E402

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REPORT = "runs/churn__training/manual__1/validate_data/validation.html"
ACCESS = {"ann": {"churn__training", "churn__monitoring", "churn__health", "churn__rollback"},
          "bob": {"churn__monitoring"}}  # fmt: skip


class StandInAuthManager:
    """SimpleAuthManager whose users may read only the DAGs ACCESS lists for them."""

    @staticmethod
    def build() -> Any:
        from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import (
            SimpleAuthManager,
        )

        class PerDagAccess(SimpleAuthManager):
            def init(self) -> None:  # no password file: tokens are minted by the test
                pass

            def is_authorized_dag(self, *, method, user, access_entity=None, details=None):
                return method == "GET" and details.id in ACCESS.get(user.username, set())

        return PerDagAccess()


@pytest.fixture(scope="module")
def tokens(airflow_db: None) -> Iterator[dict[str, str]]:
    """Real JWTs for ann and bob (Airflow checks revoked tokens in its DB: migrated)."""
    from airflow.api_fastapi import app as airflow_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "unit-test-secret-" + "x" * 64)
        manager = StandInAuthManager.build()
        patch.setattr(airflow_app._AuthManagerState, "instance", manager)
        yield {
            name: manager.generate_jwt(SimpleAuthManagerUser(username=name, role="viewer"))
            for name in ACCESS
        }


def _project(base: Path, storage_root: str = ".mlops", extra: str = "") -> Path:
    """dags/churn.yaml (the example) with its storage root, plus a report in a run folder."""
    (base / "dags").mkdir(parents=True)
    text = (ROOT / "dags" / "churn.yaml").read_text()
    (base / "dags" / "churn.yaml").write_text(
        text + f"\nstorage: {{root: {storage_root}}}\n{extra}"
    )
    return base


@pytest.fixture
def local(tmp_path: Path, tokens: dict[str, str]) -> tuple[TestClient, Path]:
    from airflow_mlops_provider.plugins.app import create_app

    project = _project(tmp_path / "project")
    pipeline = project / ".mlops" / "pipelines" / "churn"
    report = pipeline / REPORT
    report.parent.mkdir(parents=True)
    report.write_text("<html><body>validation of batch 1</body></html>")
    (report.parent / "validation.json").write_text(json.dumps({"passed": True}))
    (pipeline / "monitoring").mkdir()
    (pipeline / "monitoring" / "latest.json").write_text(json.dumps({"status": "healthy"}))
    catalog = Catalog(project / "dags", lambda conn_id: None)
    return TestClient(create_app(catalog)), pipeline


def get(client: TestClient, path: str, token: str | None = None, **headers: str) -> Any:
    cookies = {"_token": token} if token else {}
    return client.get(f"/reports/churn/{path}", cookies=cookies, headers=headers,
                      follow_redirects=False)  # fmt: skip


def test_a_user_who_can_see_the_dag_reads_its_report(local, tokens) -> None:
    client, _ = local
    answer = get(client, REPORT, tokens["ann"])
    assert answer.status_code == 200, answer.text
    assert "validation of batch 1" in answer.text
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script-src" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    as_json = get(client, REPORT.replace(".html", ".json"), tokens["ann"])
    assert as_json.json() == {"passed": True}
    assert as_json.headers["content-type"] == "application/json"
    # the same user with a Bearer header, as a script would call it
    bearer = client.get(
        f"/reports/churn/{REPORT}", headers={"Authorization": f"Bearer {tokens['ann']}"}
    )
    assert bearer.status_code == 200


def test_a_user_who_cannot_see_the_dag_cannot_see_its_reports(local, tokens) -> None:
    client, _ = local
    assert get(client, REPORT, tokens["bob"]).status_code == 403  # bob sees monitoring only
    # pipeline-wide files need every DAG of the pipeline
    assert get(client, "monitoring/latest.json", tokens["bob"]).status_code == 403
    assert get(client, "monitoring/latest.json", tokens["ann"]).json() == {"status": "healthy"}


def test_without_a_session_pages_go_to_login_and_json_is_401(local) -> None:
    client, _ = local
    page = get(client, REPORT, accept="text/html,application/xhtml+xml")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login?next="), page.headers
    assert get(client, REPORT).status_code == 401
    assert get(client, REPORT, "not-a-jwt").status_code == 403  # Airflow: invalid token
    assert client.get("/api/pipelines").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "../churn.yaml",
        "runs/../../../dags/churn.yaml",
        "runs/%2e%2e/%2e%2e/%2e%2e/dags/churn.yaml",
        "runs/%252e%252e/x.html",
        "runs/churn__training/manual__1/validate_data/.validation.html.1.tmp",
        "runs/churn__training/manual__1/validate_data",  # a folder
        "runs/other__training/manual__1/validate_data/validation.html",  # not this pipeline's
        "snapshots/abc/train.parquet",  # data, not a report
        "audit.jsonl",
        "runs/churn__training/manual__1/validate_data/missing.html",
    ],
)
def test_only_reports_below_the_pipeline_root_are_served(local, tokens, path) -> None:
    client, _ = local
    answer = get(client, path, tokens["ann"])
    # httpx resolves a literal `..` itself (the server then sees another route): not served
    expected = {404, 307} if path.startswith("../") else {404}
    assert answer.status_code in expected, (path, answer.status_code, answer.text[:200])
    assert "pipeline: churn" not in answer.text


def test_a_symlink_out_of_the_root_is_refused(local, tokens, tmp_path) -> None:
    client, pipeline = local
    secret = tmp_path / "secret.html"
    secret.write_text("not yours")
    (pipeline / "runs" / "churn__training" / "manual__1" / "leak.html").symlink_to(secret)
    answer = get(client, "runs/churn__training/manual__1/leak.html", tokens["ann"])
    assert answer.status_code == 404 and "not yours" not in answer.text


def test_unknown_pipeline_is_404(local, tokens) -> None:
    client, _ = local
    answer = client.get(f"/reports/nope/{REPORT}", cookies={"_token": tokens["ann"]})
    assert answer.status_code == 404


def test_reports_on_s3_through_the_aws_connection(tmp_path, tokens) -> None:
    """storage.root on S3 (moto's server): the plugin reads through the pipeline's
    `connections.aws` connection, as the tasks do."""
    from moto.server import ThreadedMotoServer

    from airflow_mlops_provider.adapters.storage import s3_client
    from airflow_mlops_provider.plugins.app import create_app

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        extra = {"endpoint_url": f"http://{host}:{port}", "region_name": "us-east-1"}
        client = s3_client(aws_access_key_id="test", aws_secret_access_key="test", **extra)
        client.create_bucket(Bucket="mlops")
        key = f"prod/pipelines/churn/{REPORT}"
        client.put_object(Bucket="mlops", Key=key, Body=b"<html>from s3</html>")

        class Conn:
            login, password, extra_dejson = "test", "test", extra

        asked: list[str] = []
        project = _project(tmp_path / "project", storage_root="s3://mlops/prod")
        catalog = Catalog(project / "dags", lambda conn_id: asked.append(conn_id) or Conn())
        app = TestClient(create_app(catalog))
        answer = get(app, REPORT, tokens["ann"])
        assert answer.status_code == 200 and answer.text == "<html>from s3</html>"
        assert "aws_default" in asked
        assert (
            get(app, REPORT.replace("validate_data", "evaluate"), tokens["ann"]).status_code == 404
        )
        assert get(app, REPORT, tokens["bob"]).status_code == 403
    finally:
        server.stop()


def test_the_pipelines_view_lists_what_the_user_may_see(local, tokens, tmp_path) -> None:
    client, pipeline = local
    entries = [
        {"time": "2026-11-08T00:10:00+00:00", "event": "drift_checked",
         "dag_id": "churn__monitoring", "run_id": "r1", "task_id": "detect_drift",
         "actor": "airflow",
         "details": {"branch": "decide", "reason": "drift in tenure", "drifted_share": 0.4,
                     "champion_version": "1"}},
        {"time": "2026-11-08T00:20:00+00:00", "event": "approval_requested",
         "dag_id": "churn__training", "run_id": "r2", "task_id": "approve", "actor": "airflow",
         "details": {"version": "2", "risk_score": 0.5}},
    ]  # fmt: skip
    (pipeline / "audit.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    page = client.get("/pipelines", cookies={"_token": tokens["ann"]})
    assert page.status_code == 200, page.text
    assert (
        "<script" not in page.text
        and "frame-ancestors 'self'" in page.headers["content-security-policy"]
    )
    assert 'id="churn"' in page.text and "approval asked for v2" in page.text
    assert "/dags/churn__training/runs/r2/tasks/approve/required_actions" in page.text
    assert "<svg" in page.text  # the drift share over time
    data = client.get("/api/pipelines", cookies={"_token": tokens["ann"]}).json()
    assert [p["pipeline"] for p in data["pipelines"]] == ["churn"]
    assert data["pipelines"][0]["drift"][0]["value"] == 0.4
    hidden = client.get("/api/pipelines", cookies={"_token": tokens["bob"]}).json()
    assert hidden["pipelines"] == [] and hidden["hidden"] == 1


def test_config_errors_are_listed(tmp_path, tokens) -> None:
    from airflow_mlops_provider.plugins.app import create_app

    project = _project(tmp_path / "project")
    shutil.copy(ROOT / "tests" / "fixtures" / "bad_yaml" / "07_unknown_nested_key.yaml",
                project / "dags" / "broken.yaml")  # fmt: skip
    client = TestClient(create_app(Catalog(project / "dags", lambda conn_id: None)))
    data = client.get("/api/pipelines", cookies={"_token": tokens["ann"]}).json()
    assert [e["file"] for e in data["config_errors"]] == ["broken.yaml"]
    assert "unknown key" in data["config_errors"][0]["message"]


def test_the_pipelines_view_reads_a_registry_that_requires_a_login(auth_server, tmp_path, tokens):
    """A real MLflow server behind a proxy that refuses requests without admin's password:
    the view reads it with the MLflow connection's credentials, as the tasks do; a wrong
    password shows as the registry's refusal, not as "no versions"."""
    from airflow.models.connection import Connection
    from mlflow import MlflowClient

    from airflow_mlops_provider.adapters.mlflow_auth import authorization
    from airflow_mlops_provider.adapters.mlflow_registry import Tracking
    from airflow_mlops_provider.plugins.app import create_app

    proxy, password = auth_server
    tracking = Tracking(proxy.url, username="admin", password=password)
    with authorization(tracking.authorization()):
        client = MlflowClient(tracking_uri=proxy.url, registry_uri=proxy.url)
        client.create_registered_model("churn")
        made = client.create_model_version("churn", "s3://models/churn/1")
        client.set_registered_model_alias("churn", "champion", made.version)

    def view(secret: str) -> dict[str, Any]:
        conn = Connection(conn_id="mlflow_default", host=proxy.url, login="admin", password=secret)
        catalog = Catalog(_project(tmp_path / secret) / "dags", lambda conn_id: conn)
        data = TestClient(create_app(catalog)).get(
            "/api/pipelines", cookies={"_token": tokens["ann"]}
        )
        return data.json()["pipelines"][0]

    refused = proxy.refused
    seen = view(password)
    assert seen["registry_error"] is None and seen["champion"]["version"] == made.version
    assert proxy.refused == refused  # every registry request carried the login
    wrong = view("wrong")
    assert wrong["champion"] is None and "registry not readable" in wrong["registry_error"]
    assert "401" in wrong["registry_error"] and "wrong" not in wrong["registry_error"]
