"""Settings that come from Airflow connections (defined the way deployments do: AIRFLOW_CONN_*
environment variables), read through the provider's hooks and Airflow's own lookup.

The MLflow credentials are checked against a real `mlflow server --app-name basic-auth` on
127.0.0.1: every request of the Registry (tracking, registry, proxied artifacts) and of a
local trainer subprocess must authenticate, and the worker's `os.environ` never holds them.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION, Registry, Tracking
from airflow_mlops_provider.exceptions import ConnectionUnreadableError
from airflow_mlops_provider.hooks.mlflow import MlflowHook
from airflow_mlops_provider.hooks.prometheus import PrometheusHook
from airflow_mlops_provider.hooks.slack import SlackHook
from airflow_mlops_provider.hooks.storage import StorageHook

pytestmark = pytest.mark.integration
CREDENTIAL_VARIABLES = (
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)


@pytest.fixture(autouse=True)
def no_worker_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_mlflow_connection_gives_server_uri_and_keeps_credentials_out_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = {
        "conn_type": "mlops_mlflow",
        "host": "mlflow.internal",
        "port": 5000,
        "schema": "https",
        "login": "ml-bot",
        "password": "s3cret-pass",
    }
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(conn))
    tracking = MlflowHook().get_conn()
    assert tracking.uri == "https://mlflow.internal:5000"
    assert "s3cret-pass" not in repr(tracking)
    assert tracking.client_env() == {
        "MLFLOW_TRACKING_URI": "https://mlflow.internal:5000",
        "MLFLOW_TRACKING_USERNAME": "ml-bot",
        "MLFLOW_TRACKING_PASSWORD": "s3cret-pass",
    }
    assert not any(name in os.environ for name in CREDENTIAL_VARIABLES)


def test_a_password_without_login_is_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "mlops_mlflow", "host": "https://mlflow.internal", "password": "tok"}
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(conn))
    tracking = MlflowHook().get_conn()
    assert tracking.authorization() == "Bearer tok"
    assert tracking.client_env()["MLFLOW_TRACKING_TOKEN"] == "tok"


def test_without_connection_the_local_store_is_used_and_said_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    hook = MlflowHook(local_dir=tmp_path / ".mlops")
    with caplog.at_level(logging.INFO, logger="airflow_mlops_provider.hooks.mlflow"):
        tracking = hook.get_conn()
        assert hook.get_conn() is tracking  # cached: looked up once
    assert tracking.uri == f"sqlite:///{tmp_path / '.mlops' / 'mlflow.db'}"
    assert tracking.artifact_location == (tmp_path / ".mlops" / "mlartifacts").as_uri()
    (line,) = [r.getMessage() for r in caplog.records]
    assert "no Airflow connection 'mlflow_default'" in line and "local store" in line


@pytest.mark.parametrize(
    ("hook", "variable"),
    [
        (lambda: MlflowHook(local_dir="/tmp").get_conn(), "AIRFLOW_CONN_MLFLOW_DEFAULT"),
        (lambda: StorageHook().get_conn(), "AIRFLOW_CONN_AWS_DEFAULT"),
        (lambda: SlackHook(channel="#ml").get_conn(), "AIRFLOW_CONN_SLACK_DEFAULT"),
        (lambda: PrometheusHook("prom").get_conn(), "AIRFLOW_CONN_PROM"),
    ],
)
def test_a_connection_that_cannot_be_read_fails_loudly(
    monkeypatch: pytest.MonkeyPatch, hook, variable: str
) -> None:
    """Airflow reports an unparsable AIRFLOW_CONN_* as "not defined"; the hooks do not fall
    back to the local default on it."""
    monkeypatch.setenv(variable, '{"conn_type": "http", "host": ')  # truncated JSON
    with pytest.raises(ConnectionUnreadableError, match=f"{variable} is set but Airflow cannot"):
        hook()
    with pytest.raises(AirflowFailException):  # a retry cannot fix a configuration
        hook()


def test_no_local_mlflow_store_on_an_s3_storage_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a connection the local store lives beside the storage root — which must be a
    local folder: never a worker-local `s3:/bucket/...` path."""
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    hook = MlflowHook(local_dir="s3://bucket/mlops")
    with pytest.raises(AirflowFailException, match="no Airflow connection 'mlflow_default'"):
        hook.get_conn()


def test_a_connection_without_host_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps({"conn_type": "http"}))
    with pytest.raises(ConnectionUnreadableError, match="'mlflow_default'.*has no host"):
        MlflowHook().get_conn()


def test_prometheus_and_s3_from_their_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PROM", json.dumps({"conn_type": "http", "host": "prom", "port": 9090})
    )
    assert PrometheusHook("prom").get_conn() == "http://prom:9090"
    with pytest.raises(ConnectionUnreadableError, match="'absent' does not exist"):
        PrometheusHook("absent").get_conn()
    aws = {
        "conn_type": "aws",
        "login": "AKIA1",
        "password": "secret",
        "extra": {
            "endpoint_url": "http://127.0.0.1:1",
            "region_name": "eu-west-1",
            "connect_timeout": 2,
            "read_timeout": 3,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
    client = StorageHook().get_conn()
    assert client.meta.endpoint_url == "http://127.0.0.1:1"
    assert client.meta.region_name == "eu-west-1"
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2.0, 3.0)


def test_credentials_reach_the_server_but_never_the_environment(
    auth_server, tmp_path: Path
) -> None:
    from airflow_mlops_provider.execution.local import LocalTrainer

    proxy, password = auth_server
    registry = Registry("churn", Tracking(proxy.url, username="admin", password=password))
    experiment = registry.ensure_experiment("auth-check")
    run_id = registry.create_run(experiment, "dag/run/task", "r", {"mlops.pipeline": "churn"})
    registry.log_texts(run_id, {"note.txt": "proxied artifact"}, artifact_path="notes")
    assert registry.by_alias(CHAMPION) is None  # no such model yet: a clean "not found"
    assert not any(name in os.environ for name in CREDENTIAL_VARIABLES)

    script = tmp_path / "trainer.py"  # a trainer that writes to its run with its own client
    script.write_text(
        "import os\nfrom mlflow import MlflowClient\n"
        "MlflowClient().set_tag(os.environ['MLFLOW_RUN_ID'], 'trainer', 'was here')\n"
    )
    trainer = LocalTrainer([sys.executable, str(script)], cwd=tmp_path, timeout_s=120, log=print)
    trainer.run({"MLFLOW_RUN_ID": run_id}, registry.tracking.client_env())
    run = registry.get_run(run_id)
    assert run.data.tags["trainer"] == "was here"
    assert not any(name in os.environ for name in CREDENTIAL_VARIABLES)
    assert proxy.refused == 0 and proxy.passed >= 6

    wrong = Registry("churn", Tracking(proxy.url, username="admin", password="wrong"))
    with pytest.raises(Exception, match="401"):
        wrong.ensure_experiment("auth-check")
    assert proxy.refused >= 1


def test_local_trainer_reads_s3_with_the_aws_connection_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The worker has no AWS_* variables; the trainer subprocess reads the snapshot on a
    moto S3 server with the `aws_default` connection's keys and endpoint, given in its own
    environment only — the log shows none of them."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from moto.server import ThreadedMotoServer

    from airflow_mlops_provider.adapters.storage import s3_client
    from airflow_mlops_provider.execution.local import LocalTrainer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        key_id, secret = "AKIATRAINER", secrets.token_urlsafe(12)
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            monkeypatch.delenv(name)
        conn = {"conn_type": "aws", "login": key_id, "password": secret}
        conn["extra"] = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
        client = s3_client(
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        client.create_bucket(Bucket="snap")
        local = tmp_path / "train.parquet"
        pq.write_table(pa.table({"x": [1, 2, 3]}), local)
        client.upload_file(str(local), "snap", "run/train.parquet")
        script = tmp_path / "trainer.py"
        script.write_text(
            "import os, pyarrow.parquet as pq\n"
            "print('rows', pq.read_table(os.environ['MLOPS_TRAIN_DATA']).num_rows)\n"
        )
        env = StorageHook().subprocess_env()
        lines: list[str] = []
        trainer = LocalTrainer(
            [sys.executable, str(script)],
            cwd=tmp_path,
            timeout_s=120,
            log=lines.append,
            storage_env=env,
        )
        assert secret not in repr(trainer)
        trainer.run({"MLOPS_TRAIN_DATA": "s3://snap/run/train.parquet"}, {})
    finally:
        server.stop()
    assert lines[-1] == "rows 3"
    assert not any(n.startswith("AWS_") for n in os.environ)
    assert secret not in "\n".join(lines) + capsys.readouterr().out
