"""Drift-check soundness: false alarms on stable data and detection of known shifts.

    .venv/bin/python bench/drift_quality.py [--checks 100]

Seeded scenarios on a table of 8 features (6 numeric normal, 2 categorical with shares
0.4/0.3/0.2/0.1; every numeric feature has 2% missing values in both tables):

- ``none``: same distribution, sample sizes (rows of reference and of current) 1k, 10k, 100k,
  1M. Counted per engine: dataset-level alarms and checks with any feature flagged.
- shifts of 2 of the 8 features (25%, our default ``drift_share``) at 10k rows:
  ``mean_0.1`` / ``mean_0.25`` (mean + 0.1 / 0.25 std on x0, x1), ``scale_1.2`` (20% wider
  spread of x0, x1), ``category_5pt`` (5 points of share moved from the first to the last
  category of c0, c1), ``missing_10pt`` (missing share of x0, x1 rises from 2% to 12%).
  Detection rate = share of checks in which the engine flags *both* shifted features; the
  dataset-level rate is reported too.

Engines: ours (profile fitted on the reference, ``compare_profile`` with the defaults: auto
tests, Bonferroni at alpha 0.01, drift_share 0.25, missing-rate change 5 points); Evidently 0.7
``DataDriftPreset`` with its defaults (dataset drift at share 0.5) in bench/.venv-evidently
(see bench/drift.py); a plain scipy loop (``ks_2samp`` / two-sample chi-square per feature on
non-missing values at p < 0.05, no correction, dataset drift at share 0.25). Each reference is
reused for 10 current batches (as one champion profile meets many batches); references and
batches are independent draws. 1M-row checks are limited to ``CHECKS_AT_1M`` and Evidently
runs fewer checks everywhere (``EVIDENTLY_CHECKS``; none at 1M rows); the JSON gives every
denominator.

This file is also the Evidently child (``--evidently-child IN OUT``): stdlib at module level.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
NUMERIC = [f"x{i}" for i in range(6)]
CATEGORICAL = ["c0", "c1"]
SHIFTED = {
    "mean_0.1": ["x0", "x1"],
    "mean_0.25": ["x0", "x1"],
    "scale_1.2": ["x0", "x1"],
    "category_5pt": ["c0", "c1"],
    "missing_10pt": ["x0", "x1"],
}
CATS = ["a", "b", "c", "d"]
SHARES = [0.4, 0.3, 0.2, 0.1]
NO_DRIFT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
SHIFT_SIZES = (10_000,)
PER_REFERENCE = 10
# Fewer checks where they are expensive: 1M-row checks for everyone, Evidently everywhere
# (about 7 s per check at <= 10k rows on an idle core, much more on a shared machine).
CHECKS_AT_1M = 20
EVIDENTLY_CHECKS = {
    ("none", 1_000): 10,
    ("none", 10_000): 10,
    ("none", 100_000): 3,
    **{(s, 10_000): 5 for s in SHIFTED},
}


def table(rows: int, seed: list[int], scenario: str, current: bool) -> Any:
    """One seeded table; the scenario changes only the current side."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    shifted = SHIFTED.get(scenario, []) if current else []
    data: dict[str, Any] = {}
    for name in NUMERIC:
        values = rng.normal(0.0, 1.0, rows)
        if name in shifted and scenario == "mean_0.1":
            values += 0.1
        elif name in shifted and scenario == "mean_0.25":
            values += 0.25
        elif name in shifted and scenario == "scale_1.2":
            values *= 1.2
        missing = 0.12 if name in shifted and scenario == "missing_10pt" else 0.02
        values[rng.random(rows) < missing] = np.nan
        data[name] = values
    for name in CATEGORICAL:
        p = list(SHARES)
        if name in shifted and scenario == "category_5pt":
            p[0] -= 0.05
            p[-1] += 0.05
        data[name] = np.array(CATS, dtype=object)[rng.choice(4, size=rows, p=p)]
    return pd.DataFrame(data)


def plan(checks: int, engine: str) -> list[dict[str, Any]]:
    """Every (scenario, rows, reference seed, current seed) an engine checks."""
    cases = [("none", rows) for rows in NO_DRIFT_SIZES]
    cases += [(s, rows) for s in SHIFTED for rows in SHIFT_SIZES]
    out = []
    for scenario, rows in cases:
        n = checks if rows < 1_000_000 else min(checks, CHECKS_AT_1M)
        if engine == "evidently":
            n = EVIDENTLY_CHECKS.get((scenario, rows), 0)
        index = 0 if scenario == "none" else 1 + list(SHIFTED).index(scenario)
        for i in range(n):  # seeds are integer lists: independent numpy streams
            out.append(
                {
                    "scenario": scenario,
                    "rows": rows,
                    "ref": [1, rows, i // PER_REFERENCE],
                    "cur": [2, rows, index, i],
                }
            )
    return out


# --------------------------------------------------------------------------------------------
# engines: each returns (flagged feature names, dataset drift)
# --------------------------------------------------------------------------------------------


def run_ours(reference: Any, current: Any, cache: dict[Any, Any], ref_seed: Any) -> tuple:
    from airflow_mlops_provider.core.drift import compare_profile
    from airflow_mlops_provider.core.drift_profile import fit_profile

    key = tuple(ref_seed)
    if key not in cache:
        cache.clear()
        cache[key] = fit_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    report = compare_profile(cache[key], current)
    return report.drifted_features(), report.dataset_drift


def run_scipy(reference: Any, current: Any, cache: dict[Any, Any], ref_seed: Any) -> tuple:
    import numpy as np
    from scipy import stats

    flagged = []
    for name in NUMERIC:
        ref = reference[name].dropna().to_numpy()
        cur = current[name].dropna().to_numpy()
        if stats.ks_2samp(ref, cur).pvalue < 0.05:
            flagged.append(name)
    for name in CATEGORICAL:
        ref, cur = reference[name].value_counts(), current[name].value_counts()
        keys = ref.index.union(cur.index)
        counts = np.vstack([ref.reindex(keys, fill_value=0), cur.reindex(keys, fill_value=0)])
        if stats.chi2_contingency(counts).pvalue < 0.05:
            flagged.append(name)
    return flagged, len(flagged) / (len(NUMERIC) + len(CATEGORICAL)) >= 0.25


def run_evidently(reference: Any, current: Any, cache: dict[Any, Any], ref_seed: Any) -> tuple:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    flagged, share, threshold = [], 0.0, 0.5
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share, threshold = metric["value"]["share"], config["drift_share"]
        elif config["type"].endswith("ValueDrift"):
            value, cut = metric["value"], config["threshold"]
            if (value < cut) if "p_value" in config["method"] else (value >= cut):
                flagged.append(config["column"])
    return flagged, share >= threshold


ENGINES = {"ours": run_ours, "scipy": run_scipy, "evidently": run_evidently}


def run_plan(engine: str, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runner = ENGINES[engine]
    cache: dict[Any, Any] = {}
    tables: dict[Any, Any] = {}
    out = []
    for case in cases:
        key = (case["rows"], *case["ref"])
        if key not in tables:
            tables.clear()
            tables[key] = table(case["rows"], case["ref"], "none", current=False)
        current = table(case["rows"], case["cur"], case["scenario"], current=True)
        start = time.perf_counter()
        flagged, dataset = runner(tables[key], current, cache, case["ref"])
        out.append(
            {
                **case,
                "flagged": list(flagged),
                "dataset_drift": bool(dataset),
                "seconds": time.perf_counter() - start,
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------


def summarize(engine: str, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for c in checks:
        groups.setdefault((c["scenario"], c["rows"]), []).append(c)
    rows = []
    for (scenario, size), group in groups.items():
        n = len(group)
        row = {"engine": engine, "scenario": scenario, "rows": size, "checks": n}
        row["dataset_alarms"] = sum(c["dataset_drift"] for c in group)
        if scenario == "none":
            row["any_feature_alarms"] = sum(bool(c["flagged"]) for c in group)
            row["dataset_alarms_per_100"] = 100 * row["dataset_alarms"] / n
            row["any_feature_alarms_per_100"] = 100 * row["any_feature_alarms"] / n
        else:
            wanted = set(SHIFTED[scenario])
            row["detected"] = sum(wanted <= set(c["flagged"]) for c in group)
            row["detection_rate"] = row["detected"] / n
            row["dataset_detection_rate"] = row["dataset_alarms"] / n
        row["median_check_s"] = sorted(c["seconds"] for c in group)[n // 2]
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | rows | engine | checks | dataset alarms / 100 | any-feature alarms / 100 "
        "| detection (both shifted flagged) | dataset-level detection |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["scenario"] != "none", r["scenario"], r["rows"])):
        if r["scenario"] == "none":
            cells = (
                f"{r['dataset_alarms_per_100']:.0f} | {r['any_feature_alarms_per_100']:.0f} | – | –"
            )
        else:
            cells = (
                f"– | – | {r['detection_rate']:.0%} ({r['detected']}/{r['checks']}) | "
                f"{r['dataset_detection_rate']:.0%}"
            )
        lines.append(
            f"| {r['scenario']} | {r['rows']:,} | {r['engine']} | {r['checks']} | {cells} |"
        )
    return "\n".join(lines)


def evidently_python() -> Path:
    sys.path.insert(0, str(BENCH))
    from drift import ensure_evidently_venv

    return ensure_evidently_venv()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=100)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES))
    parser.add_argument("--evidently-child", nargs=2, metavar=("IN", "OUT"))
    args = parser.parse_args()
    if args.evidently_child:
        cases = json.loads(Path(args.evidently_child[0]).read_text())
        Path(args.evidently_child[1]).write_text(json.dumps(run_plan("evidently", cases)))
        return
    started = dt.datetime.now(dt.UTC)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    results: dict[str, list[dict[str, Any]]] = {}
    evidently = None
    if "evidently" in args.engines:  # runs alongside ours and scipy, in its own venv
        out = BENCH / "out" / "drift-quality"
        out.mkdir(parents=True, exist_ok=True)
        (out / "evidently-plan.json").write_text(json.dumps(plan(args.checks, "evidently")))
        command = [
            str(evidently_python()),
            str(Path(__file__)),
            "--evidently-child",
            str(out / "evidently-plan.json"),
            str(out / "evidently-checks.json"),
        ]
        evidently = subprocess.Popen(command)
    for engine in (e for e in args.engines if e != "evidently"):
        print(f"{engine} ...", flush=True)
        results[engine] = run_plan(engine, plan(args.checks, engine))
    if evidently is not None:
        if evidently.wait() != 0:
            raise RuntimeError("the Evidently child failed")
        results["evidently"] = json.loads((out / "evidently-checks.json").read_text())
    rows = [row for engine, checks in results.items() for row in summarize(engine, checks)]
    report = {
        "benchmark": "drift-quality",
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "loadavg_before": load_before,
        "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
        "nproc": os.cpu_count(),
        "summary": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"drift-quality-{started.date().isoformat()}.json"
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(rows))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
