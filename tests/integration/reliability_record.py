"""Measured outcomes of the fault, bad-input and security tests, kept for RELIABILITY.md.

Each test records what it measured (counts, sizes, times) under a scenario key in
`test-output/reliability.json`; `tests/reliability/render.py` rewrites RELIABILITY.md's table
from that file, so the document shows the numbers of the last run, not adjectives.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "reliability.json"


def record(key: str, *, scenario: str, test: str, outcome: dict[str, Any]) -> None:
    """Merge one scenario's outcome into the JSON: read-modify-write under a file lock, as
    the suite's worker processes (pytest-xdist) record side by side."""
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {}
        data[key] = {
            "scenario": scenario,
            "test": test,
            "outcome": outcome,
            "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{os.cpu_count()} cpu",
        }
        temp = OUTPUT.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(json.dumps(data, indent=2) + "\n")
        temp.replace(OUTPUT)
