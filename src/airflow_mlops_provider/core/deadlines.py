"""One deadline policy for the data plane's I/O: every remote call has a connect timeout, a
read timeout and a bounded number of attempts, so an endpoint that accepts a connection and
never answers fails in bounded time instead of hanging a task.

The values are the worker's (deployment) settings, never a pipeline YAML's: a pipeline cannot
make its own reads wait longer. Environment variables override the defaults:

=========================  =======  ==================================================
variable                   default  meaning
=========================  =======  ==================================================
MLOPS_IO_CONNECT_TIMEOUT   5        seconds to establish a connection
MLOPS_IO_READ_TIMEOUT      20       seconds without a byte from an open connection
MLOPS_IO_ATTEMPTS          4        attempts per request (the first one included)
=========================  =======  ==================================================

Worst case for one request: ``attempts * (connect + read)`` plus the retry backoff (botocore's
standard mode: jittered exponential, under 20 s per wait) — 4 * 25 s + ~15 s ≈ 2 minutes with
the defaults. A large download is not cut off: the read timeout is per socket read.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

__all__ = ["IoDeadline", "io_deadline"]

_ENV = {
    "connect_seconds": ("MLOPS_IO_CONNECT_TIMEOUT", 5.0),
    "read_seconds": ("MLOPS_IO_READ_TIMEOUT", 20.0),
    "attempts": ("MLOPS_IO_ATTEMPTS", 4),
}


@dataclass(frozen=True)
class IoDeadline:
    connect_seconds: float
    read_seconds: float
    attempts: int

    @property
    def worst_case_seconds(self) -> float:
        """Upper bound of one request's time before it fails, backoff waits included."""
        backoff = sum(min(2.0**i, 20.0) for i in range(self.attempts - 1))
        return self.attempts * (self.connect_seconds + self.read_seconds) + backoff

    def describe(self) -> str:
        return (
            f"connect {self.connect_seconds:g} s, read {self.read_seconds:g} s, "
            f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        )


def io_deadline() -> IoDeadline:
    """The policy from the environment (read on every call: tests and deployments set it)."""
    values: dict[str, float] = {}
    for field, (variable, default) in _ENV.items():
        raw = os.environ.get(variable, "").strip()
        try:
            value = float(raw) if raw else float(default)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{variable}={raw!r}: give a positive number of seconds/attempts")
        values[field] = value
    return IoDeadline(
        connect_seconds=values["connect_seconds"],
        read_seconds=values["read_seconds"],
        attempts=max(1, int(values["attempts"])),
    )
