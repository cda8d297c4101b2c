"""Credentials for an MLflow tracking server, scoped to the calls that need them.

MLflow 3 reads credentials from the process environment (`MLFLOW_TRACKING_USERNAME`,
`MLFLOW_TRACKING_PASSWORD`, `MLFLOW_TRACKING_TOKEN`) on every request. Writing a connection's
password there would hand it to every later request, thread and subprocess of the worker. So
the credentials go in through MLflow's documented plugin point instead — a request header
provider (entry point `mlflow.request_header_provider`, see setup.cfg) — and only while a
`Registry` call runs: `authorization(header)` makes the provider add the `Authorization`
header for the duration of the `with` block, then removes it. Threads MLflow starts inside
the block (parallel artifact downloads) see it too; the environment never does.

If the worker's environment also sets MLFLOW_TRACKING_USERNAME/PASSWORD or _TOKEN, MLflow's
own header is sent instead (it is applied after the providers'). No MLflow import here: MLflow
imports this module while it loads its plugins.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.RLock()  # one set of credentials at a time per process
_active: list[str] = []  # a stack: nested Registry calls use the same header


class ScopedAuthHeaderProvider:
    """MLflow request header provider: the `Authorization` header of the active scope."""

    def in_context(self) -> bool:
        return bool(_active)

    def request_headers(self) -> dict[str, str]:
        return {"Authorization": _active[-1]} if _active else {}


@contextmanager
def authorization(header: str | None) -> Iterator[None]:
    """Send `header` as `Authorization` on MLflow requests made inside the block."""
    if header is None:
        yield
        return
    with _lock:
        _active.append(header)
        try:
            yield
        finally:
            _active.pop()
