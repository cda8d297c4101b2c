"""Rewrite the measured-outcome table of RELIABILITY.md from test-output/reliability.json.

The fault, bad-input and security tests (tests/integration/test_faults_*.py) record what they
measured; this keeps the document equal to the last run instead of to someone's memory:

    .venv/bin/python -m pytest tests/integration/test_faults_*.py
    .venv/bin/python tests/reliability/render.py        # --check: exit 1 if out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-output" / "reliability.json"
DOCUMENT = ROOT / "RELIABILITY.md"
BEGIN, END = "<!-- measured:begin -->", "<!-- measured:end -->"
ORDER = [  # the document's order; unknown keys follow, sorted
    "faults-training",
    "faults-clear-all",
    "faults-slack-down",
    "faults-mlflow-outage",
    "bad-yaml",
    "bad-data",
    "dags-folder",
    "bad-serving-data",
    "security-secrets",
    "pods",
]


def table(results: dict[str, Any]) -> str:
    keys = [k for k in ORDER if k in results] + sorted(set(results) - set(ORDER))
    lines = [
        "| scenario | test | measured outcome |",
        "|---|---|---|",
    ]
    for key in keys:
        entry = results[key]
        test = entry["test"].replace("tests/integration/", "")
        lines.append(f"| {entry['scenario']} | `{test}` | {_outcome(entry['outcome'])} |")
    stamps = sorted({f"{e['measured']} ({e['machine']})" for e in results.values()})
    lines += ["", f"Measured: {', '.join(stamps[:1] + stamps[-1:]) if stamps else 'never'}."]
    return "\n".join(lines)


def _outcome(outcome: dict[str, Any]) -> str:
    parts = []
    for name, value in outcome.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{name}: {value}")
    return "; ".join(parts).replace("|", "/")


def render(document: str, results: dict[str, Any]) -> str:
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise SystemExit(f"{DOCUMENT.name} has no {BEGIN} ... {END} section")
    return f"{head}{BEGIN}\n{table(results)}\n{END}{tail}"


def main(argv: list[str]) -> int:
    if not RESULTS.exists():
        print(f"no {RESULTS.relative_to(ROOT)}: run the fault tests first", file=sys.stderr)
        return 2
    current = DOCUMENT.read_text()
    updated = render(current, json.loads(RESULTS.read_text()))
    if "--check" in argv:
        return 0 if updated == current else 1
    DOCUMENT.write_text(updated)
    print(f"{DOCUMENT.name}: table rewritten from {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
