"""Processes the system test starts, and the guarantee that none outlives it.

Every service runs in its own process group (a new session), so one signal reaches the
service and every child it forked (LocalExecutor workers, trainer subprocesses, gunicorn or
uvicorn workers). Each started process is registered; `stop_everything()` runs from the test
fixture's finalizer and again from `atexit`, so a failed assertion, a pytest timeout or a
KeyboardInterrupt still leaves nothing running.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STARTED: list[Process] = []


def free_port() -> int:
    """A port nobody listens on now (other sessions run servers on this machine too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float, poll: float = 1.0) -> Any:
    """Poll `check` until it returns something truthy; a TimeoutError names `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(poll)


class Process:
    """One command in its own process group, its output appended to a log file.

    `stop_signal` is what asks it to end cleanly (PostgreSQL's fast shutdown is SIGINT);
    SIGKILL follows after `grace` seconds. `user` runs it as another account (PostgreSQL
    refuses to run as root)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        log: Path,
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
        grace: float = 10.0,
        user: int | None = None,
        group: int | None = None,
    ) -> None:
        self.name, self.argv, self.env, self.log, self.cwd = name, argv, env, log, cwd
        self.stop_signal, self.grace = stop_signal, grace
        self.user, self.group = user, group
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n=== {time.strftime('%H:%M:%S')} starting {self.name}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=self.user,
                group=self.group,
                extra_groups=[] if self.user is not None else None,
            )
        _STARTED.append(self)
        return self

    @property
    def pgid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_running(self) -> None:
        """Raise with the log's tail when the service died."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the service and everything it forked)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)

    def stop(self) -> None:
        """The stop signal, then SIGKILL for whatever is left of the group after `grace`."""
        if self.proc is None:
            return
        for sig, grace in ((self.stop_signal, self.grace), (signal.SIGKILL, 5.0)):
            self.kill_group(sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self.group_alive():
                time.sleep(0.2)
            if not self.group_alive():
                return
        raise RuntimeError(f"{self.name}: process group {self.pgid} survived SIGKILL")

    def group_alive(self) -> bool:
        """Any process left in the group (the leader is reaped first, so it cannot linger)."""
        if self.proc is None:
            return False
        self.proc.poll()
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        return True


def stop_everything() -> list[str]:
    """Stop every started process, newest first (clients before the database); returns the
    names of groups that survived, which the fixture reports as a failure."""
    survivors = []
    while _STARTED:
        process = _STARTED.pop()
        try:
            process.stop()
        except RuntimeError:
            survivors.append(process.name)
    return survivors


atexit.register(stop_everything)


def kill_strays(base: Path) -> int:
    """SIGKILL every process working under `base` (task runners, trainers: their cwd is the
    project there); returns how many. Airflow puts each task runner in a process group of
    its own, so a task still running when its scheduler stops outlives the scheduler's group,
    trainer and all; nothing else finds them."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if not Path(os.readlink(entry / "cwd")).is_relative_to(base):
                continue
            os.kill(int(entry.name), signal.SIGKILL)
            killed += 1
        except OSError:
            continue  # gone meanwhile, or not ours to look at
    return killed


def sigterm_exits() -> Any:
    """Make SIGTERM (a CI job cancelled, `timeout`) raise SystemExit, so the finalizers and
    atexit still stop every process; returns the previous handler to restore."""

    def leave(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, leave)


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    timeout: float = 30,
) -> Any:
    """One JSON request; HTTP errors raise urllib.error.HTTPError with the server's reply."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False
