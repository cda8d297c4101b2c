"""Storage against moto's S3 server and Slack against a local HTTP endpoint — real HTTP on
127.0.0.1, no client mocked. (Slack itself cannot be reached from here.)"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest

from airflow_mlops_provider.adapters import slack
from airflow_mlops_provider.adapters.storage import Storage, s3_client

from .fault_servers import request_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def moto_client(endpoint: str):
    return s3_client(
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def s3_storage(s3_endpoint: str, tmp_path: Path) -> Storage:
    moto_client(s3_endpoint).create_bucket(Bucket="lake")
    return Storage(tmp_path, s3_client=lambda: moto_client(s3_endpoint))


class _FlakyProxy(BaseHTTPRequestHandler):
    """Forwards to moto, but answers the first `failures` requests with 503 SlowDown."""

    upstream = ""
    failures = 0
    seen: list[int] = []

    def _handle(self) -> None:
        body = request_body(self)
        if _FlakyProxy.failures > 0:
            _FlakyProxy.failures -= 1
            _FlakyProxy.seen.append(503)
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"<Error><Code>SlowDown</Code><Message>busy</Message></Error>")
            return
        hop_by_hop = ("transfer-encoding", "expect")  # the proxy already has the whole body
        headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
        if body:
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(urlsplit(self.upstream).netloc, timeout=30)
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        status, payload = answer.status, answer.read()
        upstream.close()
        _FlakyProxy.seen.append(status)
        self.send_response(status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    def log_message(self, *args: object) -> None:
        pass


def test_s3_transient_5xx_is_retried(s3_endpoint: str, tmp_path: Path) -> None:
    moto_client(s3_endpoint).create_bucket(Bucket="flaky")
    _FlakyProxy.upstream, _FlakyProxy.seen = s3_endpoint, []
    server = HTTPServer(("127.0.0.1", 0), _FlakyProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{server.server_port}"
    storage = Storage(tmp_path, s3_client=lambda: moto_client(proxy))
    try:
        _FlakyProxy.failures = 2  # a write meets two 503s, then succeeds
        storage.write_frame(pd.DataFrame({"x": [1, 2, 3]}), "s3://flaky/b/part.parquet")
        _FlakyProxy.failures = 2  # and so does the read
        assert storage.read_frame("s3://flaky/b")["x"].tolist() == [1, 2, 3]
    finally:
        server.shutdown()
    # the read's last answer is a ranged GET (206): parts stream row group by row group
    assert _FlakyProxy.seen.count(503) == 4 and _FlakyProxy.seen[-1] in (200, 206)


def test_s3_frames_text_and_audit_lines(s3_storage: Storage) -> None:
    part = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    s3_storage.write_frame(part, "s3://lake/batches/dt=1/part-0.parquet")
    s3_storage.write_frame(part.assign(x=[3, 4]), "s3://lake/batches/dt=1/part-1.parquet")
    s3_storage.write_text("s3://lake/batches/dt=1/_SUCCESS.txt", "")
    frame = s3_storage.read_frame("s3://lake/batches/dt=1")
    assert frame["x"].tolist() == [1, 2, 3, 4]  # both parts, in name order, marker ignored
    assert s3_storage.exists("s3://lake/batches/dt=1") and not s3_storage.exists("s3://lake/no")
    s3_storage.append_line("s3://lake/audit", '{"event": "a"}')
    s3_storage.append_line("s3://lake/audit", '{"event": "b"}')
    listing = s3_storage._client().list_objects_v2(Bucket="lake", Prefix="audit/")
    assert listing["KeyCount"] == 2  # one object per line: concurrent writers never collide
    with pytest.raises(FileNotFoundError, match="no data at s3://lake/empty"):
        s3_storage.read_frame("s3://lake/empty")


def test_local_paths_resolve_under_the_project(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    assert storage.resolve("data/x.parquet") == str(tmp_path / "data" / "x.parquet")
    assert storage.resolve("file:///abs/x.csv") == "/abs/x.csv"
    storage.write_text("out/a.txt", "hello")
    assert (tmp_path / "out" / "a.txt").read_text() == "hello"
    assert not list((tmp_path / "out").glob(".*tmp"))  # atomic write left no temp file
    with pytest.raises(FileNotFoundError, match="no data at"):
        storage.read_frame("missing/folder")


class _FakeSlack(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.received.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        payload = {"ok": self.status == 200, "error": "ratelimited"}
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slack_api():
    server = HTTPServer(("127.0.0.1", 0), _FakeSlack)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeSlack.received, _FakeSlack.status = [], 200
    yield f"http://127.0.0.1:{server.server_port}/api/"
    server.shutdown()


def test_slack_message_is_posted(slack_api: str) -> None:
    assert slack.send("drift!", channel="#ml", token="xoxb-1", base_url=slack_api) == "sent"
    (request,) = _FakeSlack.received
    assert request["path"] == "/api/chat.postMessage"
    assert json.loads(request["body"]) == {"channel": "#ml", "text": "drift!"}
    assert request["auth"] == "Bearer xoxb-1"


def test_slack_failure_never_raises(slack_api: str) -> None:
    _FakeSlack.status = 429
    status = slack.send("drift!", channel="#ml", token="xoxb-1", base_url=slack_api)
    assert status.startswith("failed:")
    assert slack.send("x", channel=None, token=None) == "logged"


def test_registering_a_version_prints_nothing_to_stderr(
    tmp_path: Path, capfd: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    """A task supervisor records stderr at ERROR: MLflow's "Created version '1'" must not
    reach it; the adapter says it in one INFO line instead."""
    import logging

    import mlflow

    from airflow_mlops_provider.adapters.mlflow_registry import Registry, Tracking

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    registry = Registry("quiet", Tracking(uri, artifact_location=(tmp_path / "art").as_uri()))
    run_id = registry.create_run(registry.ensure_experiment("quiet"), "d/r/t", "r", {})
    with mlflow.start_run(run_id=run_id):
        mlflow.pyfunc.log_model(name="model", python_model=Echo())
    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="airflow_mlops_provider.adapters.mlflow_registry"):
        version = registry.register(run_id, {})
    captured = capfd.readouterr()
    assert "Created version" not in captured.err + captured.out
    assert "version" not in captured.err
    adapter = "airflow_mlops_provider.adapters.mlflow_registry"  # (MLflow may log its setup)
    assert [r.getMessage() for r in caplog.records if r.name == adapter] == [
        f"Registered quiet version {version.version} (MLflow run {run_id})"
    ]
