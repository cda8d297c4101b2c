"""The production-shaped deployment the system test drives, all on 127.0.0.1 and free ports:

- PostgreSQL (Debian's package; `initdb` + `postgres` as an unprivileged account, because
  PostgreSQL refuses to run as root) with one database for Airflow and one for MLflow;
- moto in server mode as S3 (data, the pipelines' storage.root, MLflow's artifacts);
- an `mlflow server` with its backend store on PostgreSQL (`postgresql+psycopg2://`; MLflow
  maps plain `postgresql://` to psycopg 3) and artifacts proxied to S3 (`--artifacts-destination`);
- Airflow's four components as separate processes — scheduler (LocalExecutor), dag-processor,
  triggerer, api-server — sharing `[api_auth] jwt_secret`, `[api] secret_key` and
  `[core] execution_api_server_url`, with connections `mlflow_default` and `aws_default` given
  as `AIRFLOW_CONN_*` JSON, the way a Helm chart or a secrets backend would.

Nothing inherits AWS/MLflow/Airflow settings from the test process: what a task knows about
S3 and MLflow comes from the connections, as in production.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
from glob import glob
from pathlib import Path
from typing import Any

from .processes import Process, free_port, http, reachable, wait_for

BIN = Path(sys.executable).parent
AIRFLOW_COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
ADMIN = "admin"
S3_KEYS = {"aws_access_key_id": "system-test", "aws_secret_access_key": "system-test-secret"}
REGION = "us-east-1"
API_READ_TIMEOUT_S, API_WRITE_TIMEOUT_S = 60, 120


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without Airflow, MLflow or AWS settings, the venv's bin
    first on PATH (components start their children by name)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "MLFLOW_", "AWS_", "MLOPS_", "PYTEST_"))
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["GX_ANALYTICS_ENABLED"] = "false"
    env.update(extra)
    return env


def postgres_bindir() -> Path | None:
    """Where initdb and postgres are: Debian keeps them in /usr/lib/postgresql/<major>/bin."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class Postgres:
    """A throwaway cluster: trust authentication on 127.0.0.1 only, durability off (a test)."""

    USER = "mlops"

    def __init__(self, logs: Path) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (tests/system_packages.sh installs it)")
        self.bindir, self.logs, self.port = bindir, logs, free_port()
        # Not under pytest's tmp folder: that is 0700 root's, and the server's account must
        # reach its data directory.
        self.folder = Path(tempfile.mkdtemp(prefix="mlops-system-pg-"))
        self.account = _unprivileged_account()
        if self.account:
            os.chown(self.folder, *self.account)
        self.process: Process | None = None

    def start(self) -> None:
        data = self.folder / "data"
        uid, gid = self.account or (None, None)
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                self.USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            user=uid,
            group=gid,
            extra_groups=[] if uid is not None else None,
            cwd=self.folder,
        )
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
            "max_connections": "300",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        argv = [str(self.bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self.process = Process(
            "postgresql",
            argv,
            env=clean_env(),
            log=self.logs / "postgresql.log",
            cwd=self.folder,
            stop_signal=signal.SIGINT,
            user=uid,
            group=gid,
        ).start()
        wait_for("PostgreSQL accepting connections", self._ready, timeout=60)
        for database in ("airflow", "mlflow"):
            subprocess.run(
                [
                    str(self.bindir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    self.USER,
                    database,
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )

    def _ready(self) -> bool:
        assert self.process is not None
        self.process.check_running()
        done = subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return done.returncode == 0

    def url(self, database: str, driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://{self.USER}@127.0.0.1:{self.port}/{database}"

    def remove_data(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _unprivileged_account() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account to run PostgreSQL")


class S3:
    """moto's S3 in server mode, and a boto3 client on it for setting up and checking."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = Process(
            "moto s3",
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            env=clean_env(),
            log=logs / "moto.log",
        )

    def start(self) -> None:
        self.process.start()
        wait_for("moto S3 server", lambda: self._up(), timeout=60)

    def _up(self) -> bool:
        self.process.check_running()
        return reachable(f"{self.url}/moto-api/")

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=REGION, **S3_KEYS)

    def env(self) -> dict[str, str]:
        """What an S3 *server-side* client (MLflow's artifact proxy) is given."""
        return {
            "AWS_ACCESS_KEY_ID": S3_KEYS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": S3_KEYS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": REGION,
            "MLFLOW_S3_ENDPOINT_URL": self.url,
        }

    def connection(self) -> str:
        """The `aws_default` connection as Airflow's JSON form."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": S3_KEYS["aws_access_key_id"],
                "password": S3_KEYS["aws_secret_access_key"],
                "extra": {"endpoint_url": self.url, "region_name": REGION},
            }
        )


class Mlflow:
    """`mlflow server`: PostgreSQL backend store, artifacts proxied to s3://<bucket>/."""

    def __init__(self, logs: Path, postgres: Postgres, s3: S3, bucket: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            postgres.url("mlflow"),
            "--artifacts-destination",
            f"s3://{bucket}/",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        # No background job workers (huey consumers): nothing here uses MLflow jobs.
        env = clean_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", **s3.env())
        self.process = Process("mlflow server", argv, env=env, log=logs / "mlflow.log")

    def start(self) -> None:
        self.process.start()
        wait_for("mlflow server /health", self._up, timeout=180)

    def _up(self) -> bool:
        self.process.check_running()
        return reachable(f"{self.url}/health")

    def connection(self) -> str:
        """The `mlflow_default` connection as Airflow's JSON form."""
        return json.dumps(
            {"conn_type": "http", "host": "127.0.0.1", "port": self.port, "schema": "http"}
        )

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)


class Airflow:
    """The four Airflow components on PostgreSQL, and the REST API as user `admin`."""

    def __init__(
        self, home: Path, project: Path, postgres: Postgres, connections: dict[str, str]
    ) -> None:
        self.home, self.logs = home, home / "component-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        passwords = home / "passwords.json"
        passwords.write_text(json.dumps({ADMIN: self.password}))
        self.env = clean_env(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",  # worker processes on a 2-core CI machine
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgres.url("airflow"),
            # Shared by every component: tokens one signs, the others must accept.
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
            AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__API__WORKERS="1",
            # The log servers the scheduler and triggerer start (fixed 8793/8794 by default).
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
            # A task whose worker died is failed (and retried) after this many seconds without
            # a heartbeat; the default 300 s would make the scheduler kill cost 5 minutes.
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="60",
            # A restarted scheduler purges only its own silent tasks; a dead scheduler's are
            # reset by the orphan check, every 300 s by default (the 585 s kill recovery seen).
            AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL="60",
            **{f"AIRFLOW_CONN_{k.upper()}": v for k, v in connections.items()},
        )
        self.components = {
            name: Process(
                f"airflow {name}",
                [str(BIN / "airflow"), name],
                env=self.env,
                log=self.logs / f"{name}.log",
                cwd=project,
                grace=20,
            )
            for name in AIRFLOW_COMPONENTS
        }
        self._token: str | None = None

    def migrate(self) -> None:
        done = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-3000:]}{done.stderr}")

    def start(self, *names: str) -> None:
        for name in names or AIRFLOW_COMPONENTS:
            self.components[name].start()

    def check_running(self) -> None:
        for process in self.components.values():
            process.check_running()

    def wait_ready(self, dag_ids: list[str], timeout: float = 300) -> None:
        """API up, signed in, every expected DAG parsed into the database."""

        def parsed() -> bool:
            self.check_running()
            if not reachable(f"{self.url}/api/v2/monitor/health"):
                return False
            try:
                known = {d["dag_id"] for d in self.api("GET", "/api/v2/dags?limit=200")["dags"]}
            except urllib.error.URLError:
                return False
            return set(dag_ids) <= known

        wait_for(f"Airflow up with DAGs {dag_ids}", parsed, timeout, poll=2)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Airflow's REST API as `admin`, with a JWT from /auth/token (renewed on a 401).

        A GET that times out is asked again (twice): on a loaded CI machine the API server
        answers late now and then, and reading state twice is harmless. Writes are not
        repeated; they get a longer deadline instead."""
        reading = method == "GET"
        timeout = API_READ_TIMEOUT_S if reading else API_WRITE_TIMEOUT_S
        timeouts_left, renewed = (2 if reading else 0), False
        while True:
            try:
                return http(method, f"{self.url}{path}", body, token=self._jwt(), timeout=timeout)
            except TimeoutError:
                if not timeouts_left:
                    raise
                timeouts_left -= 1
            except urllib.error.HTTPError as exc:
                if exc.code != 401 or renewed:
                    raise
                self._token, renewed = None, True  # expired: sign in again, once

    def _jwt(self) -> str:
        if self._token is None:
            credentials = {"username": ADMIN, "password": self.password}
            self._token = http("POST", f"{self.url}/auth/token", credentials)["access_token"]
        return self._token
