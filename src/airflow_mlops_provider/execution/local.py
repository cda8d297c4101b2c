"""Run the trainer as a local subprocess (the embedded default's training compute).

The trainer sees only the contract environment (DESIGN.md §4) plus PATH-like basics, its
output streams into the task log line by line, and on failure the last lines are put in the
error so the Airflow UI shows why without opening another log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from airflow_mlops_provider.exceptions import TrainingError

TAIL_LINES = 40
INHERITED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    # How patient the trainer's MLflow client is (the worker's deployment setting, not YAML's).
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_REQUEST_MAX_TIMEOUT",
)


@dataclass(frozen=True)
class LocalTrainer:
    """`training.compute: local`: the trainer as a subprocess of the worker, in the project
    folder. It gets the contract environment plus the tracking server's credentials (in its
    own environment only)."""

    command: list[str]
    cwd: Path
    timeout_s: float
    log: Callable[[str], None]

    @property
    def image(self) -> str:
        """What the trainer runs on, for lineage: this interpreter."""
        return f"local:python{sys.version_info.major}.{sys.version_info.minor}"

    def run(self, env: dict[str, str], client_env: dict[str, str]) -> str | None:
        run_trainer(
            self.command,
            {**env, **client_env},
            cwd=self.cwd,
            timeout_s=self.timeout_s,
            log=self.log,
        )
        return None


def run_trainer(
    command: list[str],
    env: dict[str, str],
    *,
    cwd: Path,
    timeout_s: float,
    log: Callable[[str], None],
) -> None:
    """Run command to completion; raise TrainingError with the log tail on any failure."""
    python = command[0] in ("python", "python3")
    if python and len(command) > 1 and not command[1].startswith("-"):
        _check_script(command[1], cwd)
    argv = [sys.executable, *command[1:]] if python else command
    full_env = {k: v for k, v in os.environ.items() if k in INHERITED} | env
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except OSError as exc:
        raise TrainingError(f"cannot start trainer {argv[0]!r}: {exc.strerror}") from None
    try:
        _stream(process, tail, log, timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise TrainingError(
            f"trainer exceeded {timeout_s:.0f}s (training.timeout_minutes); "
            f"last lines:\n" + "\n".join(tail)
        ) from None
    if process.returncode < 0:  # killed: the OOM killer, an operator, a node drain
        name = signal.Signals(-process.returncode).name
        raise TrainingError(
            f"trainer was killed by {name} (out of memory, or stopped from outside); "
            "nothing was registered; last lines:\n" + "\n".join(tail)
        )
    if process.returncode != 0:
        raise TrainingError(
            f"trainer exited with code {process.returncode}; last lines:\n" + "\n".join(tail)
        )


def _check_script(script: str, cwd: Path) -> None:
    """A missing trainer script is a setup problem worth naming: the default command points
    at the repository's reference trainer, which the installed package does not ship."""
    if not (cwd / script).is_file():
        raise TrainingError(
            f"training.command's script {script} is not a file under {cwd}; the reference "
            "trainer is in the repository's include/trainer/ (the package does not ship it): "
            "copy it into the project or point training.command at your trainer"
        )


def _stream(
    process: subprocess.Popen, tail: deque[str], log: Callable[[str], None], timeout_s: float
) -> None:
    """Read output on a thread so a silent, hung trainer still hits the timeout."""
    import threading

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            log(line.rstrip())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    process.wait(timeout=timeout_s)
    reader.join(timeout=5)
