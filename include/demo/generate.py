"""Seeded generator of a churn-like demo dataset for the `churn` example pipeline.

Writes date-partitioned parquet files that exercise the whole continuous-training loop:

- ``batches/dt=2026-11-01`` — labelled reference period (the first model trains on it);
- ``batches/dt=2026-11-08`` — labelled drifted period: feature drift (higher monthly charges,
  more month-to-month contracts, a few more support calls) *and* a concept change (fiber and
  high-charge customers churn more, electronic-check payers now churn less), so a model
  trained on the old period ranks the new period measurably worse than a model retrained on
  it (5-7 ROC AUC points at 20000 rows);
- ``inference_logs/dt=...`` — unlabelled served traffic (``request_id`` instead of ``churned``):
  stable on 2026-11-01, drifted like the batch on 2026-11-08;
- ``labels/dt=...`` — the ground truth that arrived later for a share (``LABELLED_SHARE``) of
  those requests: ``request_id`` and ``churned``, drawn from the period's own churn model, so
  the drifted week's labels carry its concept change and a model trained on the reference week
  scores measurably worse on them (live performance decays).

Everything is derived from ``seed``: two runs with the same arguments write the same bytes.

    python include/demo/generate.py --out include/demo/data [--rows 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REFERENCE_DT = date(2026, 11, 1)
DRIFTED_DT = date(2026, 11, 8)

CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENT_METHODS = ["electronic-check", "mailed-check", "bank-transfer", "credit-card"]
INTERNET_SERVICES = ["dsl", "fiber", "none"]

# Each written file gets its own random stream and its own customer_id range.
LABELLED_SHARE = 0.6  # share of served requests whose outcome is known by the monitoring run
FILES = [  # (kind, partition date, drifted, stream/range index)
    ("batches", REFERENCE_DT, False, 0),
    ("batches", DRIFTED_DT, True, 1),
    ("inference_logs", REFERENCE_DT, False, 2),
    ("inference_logs", DRIFTED_DT, True, 3),
]
ID_BLOCK = 10_000_000  # customer ids of file k are C{k*ID_BLOCK + i:08d}

_FEATURE_FIELDS = [
    ("customer_id", pa.string()),
    ("event_time", pa.timestamp("us")),
    ("tenure_months", pa.int64()),
    ("monthly_charges", pa.float64()),
    ("total_charges", pa.float64()),
    ("support_calls", pa.int64()),
    ("contract", pa.string()),
    ("payment_method", pa.string()),
    ("internet_service", pa.string()),
]
BATCH_SCHEMA = pa.schema([*_FEATURE_FIELDS, ("churned", pa.int64())])
LOG_SCHEMA = pa.schema([*_FEATURE_FIELDS, ("request_id", pa.string())])
LABEL_SCHEMA = pa.schema([("request_id", pa.string()), ("churned", pa.int64())])

MONTHLY_SHIFT = 14.0  # about 0.5 std of the reference monthly_charges


def _features(rng: np.random.Generator, n: int, drifted: bool) -> dict[str, np.ndarray]:
    """Draw the customer features; ``drifted`` moves the mix as described in the module doc."""
    contract_p = [0.60, 0.20, 0.20] if drifted else [0.50, 0.25, 0.25]
    contract = rng.choice(np.array(CONTRACTS), size=n, p=contract_p)
    internet = rng.choice(np.array(INTERNET_SERVICES), size=n, p=[0.35, 0.45, 0.20])
    payment = rng.choice(np.array(PAYMENT_METHODS), size=n, p=[0.35, 0.20, 0.22, 0.23])

    tenure_mean = np.select([contract == "one-year", contract == "two-year"], [34.0, 50.0], 14.0)
    tenure = np.clip(np.rint(rng.normal(tenure_mean, 16.0)), 0, 72).astype(np.int64)

    base = np.select([internet == "fiber", internet == "dsl"], [88.0, 62.0], 30.0)
    shift = MONTHLY_SHIFT if drifted else 0.0
    monthly = np.round(np.clip(rng.normal(base + shift, 14.0), 18.0, 120.0), 2)
    noise = rng.normal(1.0, 0.05, size=n)
    total = np.round(np.maximum(tenure * monthly * noise, 0.0), 2)

    calls = np.minimum(rng.poisson(2.0 if drifted else 1.5, size=n), 10).astype(np.int64)
    return {
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": calls,
        "contract": contract,
        "payment_method": payment,
        "internet_service": internet,
    }


def churn_logit(f: dict[str, np.ndarray], drifted: bool) -> np.ndarray:
    """Log-odds of churn (base rate ~29%); the drifted period adds the concept change.

    The -0.6 offset keeps the drifted period's churn rate near 33% instead of ~42%, so the
    change shows up in *who* churns (ranking, AUC) rather than mostly in how many.
    """
    z = (
        -1.75
        + 1.1 * (f["contract"] == "month-to-month")
        - 1.0 * (f["contract"] == "two-year")
        - 0.035 * (f["tenure_months"] - 24)
        + 0.012 * (f["monthly_charges"] - 65)
        + 0.30 * (f["support_calls"] - 1.5)
        + 0.45 * (f["payment_method"] == "electronic-check")
        + 0.20 * (f["internet_service"] == "fiber")
    )
    if drifted:
        z = z + 0.9 * (f["internet_service"] == "fiber")
        z = z + 0.05 * np.maximum(f["monthly_charges"] - 95.0, 0.0)
        z = z - 1.1 * (f["payment_method"] == "electronic-check") - 0.6
    return z


def _event_times(rng: np.random.Generator, n: int, dt: date) -> np.ndarray:
    """Uniform timestamps over the 7 days before the partition date, whole seconds."""
    start = np.datetime64(datetime.combine(dt - timedelta(days=7), datetime.min.time()), "us")
    seconds = rng.integers(0, 7 * 86_400, size=n)
    return start + seconds.astype("timedelta64[s]").astype("timedelta64[us]")


def _table(
    kind: str, dt: date, drifted: bool, index: int, rows: int, seed: int
) -> tuple[pa.Table, pa.Table | None]:
    """Build one file's table from its own seeded stream; for inference logs also the labels
    table, from a second stream so the logs' bytes do not depend on it."""
    rng = np.random.default_rng([seed, index])
    n = rows if kind == "batches" else rows // 2
    ids = [f"C{index * ID_BLOCK + i:08d}" for i in range(n)]
    columns: dict[str, object] = {"customer_id": ids, "event_time": _event_times(rng, n, dt)}
    features = _features(rng, n, drifted)
    columns.update(features)
    p = 1.0 / (1.0 + np.exp(-churn_logit(features, drifted)))
    labels = None
    if kind == "batches":
        columns["churned"] = (rng.random(n) < p).astype(np.int64)
        schema = BATCH_SCHEMA
    else:
        columns["request_id"] = [f"R{dt:%Y%m%d}-{i:07d}" for i in range(n)]
        schema = LOG_SCHEMA
        labels = _labels(np.random.default_rng([seed, index, 1]), columns["request_id"], p)
    table = pa.table({name: columns[name] for name in schema.names}, schema=schema)
    return table, labels


def _labels(rng: np.random.Generator, request_ids: list[str], p: np.ndarray) -> pa.Table:
    """Outcomes of the requests whose label has arrived (a random LABELLED_SHARE of them)."""
    outcome = (rng.random(len(p)) < p).astype(np.int64)
    known = np.flatnonzero(rng.random(len(p)) < LABELLED_SHARE)
    ids = [request_ids[i] for i in known]
    return pa.table({"request_id": ids, "churned": outcome[known]}, schema=LABEL_SCHEMA)


def generate(out_dir: Path, rows: int = 20000, seed: int = 7) -> dict[str, Path]:
    """Write all six files under ``out_dir``; return ``{"<kind>/<dt>": path}``."""
    if not 2 <= rows < ID_BLOCK:
        raise ValueError(f"rows must be between 2 and {ID_BLOCK - 1}, got {rows}")
    written: dict[str, Path] = {}
    for kind, dt, drifted, index in FILES:
        table, labels = _table(kind, dt, drifted, index, rows, seed)
        written[f"{kind}/{dt.isoformat()}"] = _write(table, out_dir, kind, dt)
        if labels is not None:
            written[f"labels/{dt.isoformat()}"] = _write(labels, out_dir, "labels", dt)
    return written


def _write(table: pa.Table, out_dir: Path, kind: str, dt: date) -> Path:
    path = Path(out_dir) / kind / f"dt={dt.isoformat()}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    (path.parent / "_SUCCESS").touch()  # the marker a writer leaves once a batch is whole
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--rows", type=int, default=20000, help="rows per training batch")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for key, path in generate(args.out, rows=args.rows, seed=args.seed).items():
        print(f"{key}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
