"""What the system test saw: a timeline of events, the measurements, and the findings.

A finding is a broken expectation with its evidence (a task log excerpt, the MLflow state).
The test records findings instead of stopping at the first one, so one run shows every
problem the loop has; it fails at the end when there is any. Everything is written to
test-output/system/results.json whether the test passes or not.
"""

from __future__ import annotations

import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class Record:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.started = time.monotonic()
        self.timeline: list[dict[str, Any]] = []
        self.findings: list[dict[str, str]] = []
        self.metrics: dict[str, Any] = {}

    def now(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def event(self, what: str, **details: Any) -> None:
        entry = {"t": self.now(), "event": what, **details}
        self.timeline.append(entry)
        extra = " ".join(f"{k}={v}" for k, v in details.items())
        print(f"[system {entry['t']:7.1f}s] {what} {extra}", flush=True)

    def finding(self, key: str, message: str, evidence: str = "") -> None:
        """A broken expectation; `key` names which one (stable across runs, for the report)."""
        self.findings.append({"key": key, "message": message, "evidence": evidence.strip()})
        self.event("FINDING", key=key, message=message)

    def expect(self, ok: bool, key: str, message: str, evidence: str = "") -> bool:
        if not ok:
            self.finding(key, message, evidence)
        return ok

    def write(self) -> Path:
        self.metrics["wall_time_s"] = self.now()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {_cpus()} CPUs, {platform.python_version()}",
            "metrics": self.metrics,
            "findings": self.findings,
            "timeline": self.timeline,
        }
        self.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        return self.out

    def summary(self) -> str:
        lines = [f"{len(self.findings)} finding(s):"]
        for item in self.findings:
            lines.append(f"- [{item['key']}] {item['message']}")
            lines.extend(f"    {line}" for line in item["evidence"].splitlines()[:12])
        return "\n".join(lines)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))
