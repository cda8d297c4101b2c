"""Drift-check speed: our profile compare vs Evidently 0.7 DataDriftPreset vs a scipy loop.

    .venv/bin/python bench/drift.py [--sizes 100000 1000000 3000000] [--runs 5]

Tables: reference and current of N rows x 50 columns (40 numeric: normal, log-normal, integer
counts; 10 categorical with 4-12 values), seeded; in the current table 4 numeric columns are
shifted by 0.25 std and one categorical mix changes. They are written once as parquet under
bench/out/drift/<N>/ (gitignored).

Every measurement is a fresh Python process that loads its inputs (not timed), resets the peak
RSS counter (/proc/self/clear_refs), then times one engine, wall clock and CPU time of the
process (each sample is also appended to bench/results/drift-samples-<date>.jsonl; on a shared
machine CPU time is the steadier number):

- ours: load the reference profile JSON + ``compare_profile`` of the current batch (auto tests,
  Bonferroni) - what a monitoring run does;
- ours-fit: ``fit_profile`` of the reference (once per training; reported apart);
- evidently: ``Dataset.from_pandas`` x 2 + ``Report([DataDriftPreset()]).run`` (defaults),
  in its own venv bench/.venv-evidently (created by this script: evidently 0.7.23, pandas<3.1);
- scipy: per column ``ks_2samp`` (numeric) / two-sample ``chi2_contingency`` (categorical);
- sort: ``numpy.sort`` of every numeric column of both tables - the floor of any exact KS.

One warm-up run per engine and size, then ``--runs`` timed runs (``--runs-from-3m`` at 3M rows)
interleaved across engines; the median is reported. Evidently is slow: it is warmed up at the
first size only, gets fewer runs where one run is slow (rule in ``evidently_runs``, from the
previous size's time scaled by rows) and is skipped above ``--evidently-max-rows``; the JSON
says how many runs each engine got. Memory: peak RSS during the timed step
minus RSS just before it (the batch already loaded) = the step's extra memory; the claim is
batch + extra < 2 x batch (pandas ``memory_usage(deep=True)`` of the current table).

This file is also the child (``--child ENGINE N OUT``): stdlib-only at module level, since the
Evidently venv runs it too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out" / "drift"
RESULTS = BENCH / "results"
EV_VENV = BENCH / ".venv-evidently"
ENGINES = ("ours", "evidently", "scipy", "sort")
N_NUMERIC, N_CATEGORICAL = 40, 10
SHIFTED_NUMERIC = ("x00", "x01", "x02", "x03")
SHIFTED_CATEGORICAL = ("c0",)
TARGET_EVIDENTLY_RATIO = 100.0


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def numeric_names() -> list[str]:
    return [f"x{i:02d}" for i in range(N_NUMERIC)]


def categorical_names() -> list[str]:
    return [f"c{i}" for i in range(N_CATEGORICAL)]


def make_table(rows: int, seed: int, shifted: bool) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i, name in enumerate(numeric_names()):
        shift = 0.25 if shifted and name in SHIFTED_NUMERIC else 0.0
        if i % 4 == 3:  # log-normal, std of the underlying normal is 0.5
            data[name] = np.exp(rng.normal(shift * 0.5, 0.5, rows))
        elif i % 4 == 2:  # counts
            data[name] = rng.poisson(4.0 + shift * 2.0, rows).astype("int64")
        else:
            data[name] = rng.normal(10.0 * i + shift * (1 + i % 3), 1 + i % 3, rows)
    for i, name in enumerate(categorical_names()):
        k = 4 + i % 9
        p = np.linspace(2.0, 1.0, k)
        p /= p.sum()
        if shifted and name in SHIFTED_CATEGORICAL:
            p = p.copy()
            p[0] -= 0.05
            p[-1] += 0.05
        values = np.array([f"{name}_v{j}" for j in range(k)], dtype=object)
        data[name] = values[rng.choice(k, size=rows, p=p)]
    return pd.DataFrame(data)


def ensure_tables(rows: int) -> Path:
    folder = OUT / str(rows)
    if (folder / "current.parquet").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    print(f"writing {rows:,}-row tables to {folder} ...", flush=True)
    make_table(rows, seed=1, shifted=False).to_parquet(folder / "reference.parquet", index=False)
    make_table(rows, seed=2, shifted=True).to_parquet(folder / "current.parquet", index=False)
    return folder


# --------------------------------------------------------------------------------------------
# child
# --------------------------------------------------------------------------------------------


def proc_status() -> dict[str, int]:
    fields = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def child(engine: str, folder: str, out: str) -> None:
    import pandas as pd

    path = Path(folder)
    need_reference = engine in ("evidently", "scipy", "sort", "ours-fit")
    reference = pd.read_parquet(path / "reference.parquet") if need_reference else None
    current = pd.read_parquet(path / "current.parquet") if engine != "ours-fit" else None
    runner = {
        "ours": run_ours,
        "ours-fit": run_ours_fit,
        "evidently": run_evidently,
        "scipy": run_scipy,
        "sort": run_sort,
    }[engine]
    prepare = runner(path, reference, current, prepare_only=True)
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:
        pass
    reset_peak()
    before = proc_status()["VmRSS"]
    start, cpu_start = time.perf_counter(), time.process_time()
    result = runner(path, reference, current, prepared=prepare)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = proc_status()["VmHWM"]
    frame = current if current is not None else reference
    sample = {
        "engine": engine,
        "rows": len(frame),
        "seconds": seconds,
        "cpu_seconds": cpu,  # robust to other processes on a shared machine
        "rss_before": before,
        "peak": peak,
        "extra_bytes": max(peak - before, 0),
        "batch_bytes": int(frame.memory_usage(deep=True).sum()),
        "loadavg": Path("/proc/loadavg").read_text().split()[0],
        "result": result,
    }
    Path(out).write_text(json.dumps(sample))
    with open(RESULTS / f"drift-samples-{time.strftime('%Y-%m-%d')}.jsonl", "a") as log:
        log.write(json.dumps({k: v for k, v in sample.items() if k != "result"}) + "\n")


def run_ours(
    path: Path, reference: Any, current: Any, prepare_only: bool = False, prepared: Any = None
) -> Any:
    if prepare_only:
        from airflow_mlops_provider.core.drift import compare_profile  # noqa: F401

        return None
    from airflow_mlops_provider.core.drift import compare_profile
    from airflow_mlops_provider.core.drift_profile import DriftProfile

    profile = DriftProfile.from_dict(json.loads((path / "profile.json").read_text()))
    report = compare_profile(profile, current)
    return {"drifted": report.drifted_features(), "dataset_drift": report.dataset_drift}


def run_ours_fit(
    path: Path, reference: Any, current: Any, prepare_only: bool = False, prepared: Any = None
) -> Any:
    from airflow_mlops_provider.core.drift_profile import fit_profile

    if prepare_only:
        return None
    profile = fit_profile(reference, numeric=numeric_names(), categorical=categorical_names())
    text = json.dumps(profile.to_dict(), allow_nan=False)
    (path / "profile.json").write_text(text)
    return {"profile_bytes": len(text)}


def run_evidently(
    path: Path, reference: Any, current: Any, prepare_only: bool = False, prepared: Any = None
) -> Any:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    if prepare_only:
        return None
    definition = DataDefinition(
        numerical_columns=numeric_names(), categorical_columns=categorical_names()
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    return evidently_verdict(snapshot.dict())


def evidently_verdict(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Drifted columns and the dataset verdict from an Evidently 0.7 snapshot dict."""
    drifted, share, threshold = [], 0.0, 0.5
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"].endswith("DriftedColumnsCount"):
            share, threshold = metric["value"]["share"], config["drift_share"]
        elif config["type"].endswith("ValueDrift"):
            value, cut = metric["value"], config["threshold"]
            is_p = "p_value" in config["method"]
            if (value < cut) if is_p else (value >= cut):
                drifted.append(config["column"])
    return {"drifted": drifted, "dataset_drift": share >= threshold, "share": share}


def run_scipy(
    path: Path, reference: Any, current: Any, prepare_only: bool = False, prepared: Any = None
) -> Any:
    import numpy as np
    from scipy import stats

    if prepare_only:
        return None
    drifted = []
    for name in numeric_names():
        if stats.ks_2samp(reference[name].to_numpy(), current[name].to_numpy()).pvalue < 0.05:
            drifted.append(name)
    for name in categorical_names():
        ref, cur = reference[name].value_counts(), current[name].value_counts()
        keys = ref.index.union(cur.index)
        table = np.vstack([ref.reindex(keys, fill_value=0), cur.reindex(keys, fill_value=0)])
        if stats.chi2_contingency(table).pvalue < 0.05:
            drifted.append(name)
    return {"drifted": drifted}


def run_sort(
    path: Path, reference: Any, current: Any, prepare_only: bool = False, prepared: Any = None
) -> Any:
    import numpy as np

    if prepare_only:
        return None
    for frame in (reference, current):
        for name in numeric_names():
            np.sort(frame[name].to_numpy())
    return None


# --------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------


def ensure_evidently_venv() -> Path:
    python = EV_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {EV_VENV} (evidently==0.7.23, pandas<3.1) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(EV_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "evidently==0.7.23", "pandas<3.1", "pyarrow"], check=True)
    return python


def measure(engine: str, folder: Path, python: str) -> dict[str, Any]:
    out = folder / f".{engine}.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [python, str(Path(__file__)), "--child", engine, str(folder), str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} child failed:\n{done.stderr[-3000:]}")
    return json.loads(out.read_text())


def evidently_runs(first_seconds: float, wanted: int) -> int:
    """Fewer Evidently runs where one run is slow, so the whole benchmark stays under an hour."""
    if first_seconds > 300:
        return 1
    if first_seconds > 60:
        return min(wanted, 2)
    return wanted


def machine() -> dict[str, Any]:
    cpu = sorted(
        {
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        }
    )
    mem = next(
        line
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem.split(":", 1)[1].strip(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def versions(ev_python: Path) -> dict[str, str]:
    from importlib import metadata

    ours = {d: metadata.version(d) for d in ("numpy", "scipy", "pandas", "pyarrow")}
    ev = subprocess.run(
        [
            str(ev_python),
            "-c",
            "import evidently, pandas, numpy, scipy; print(evidently.__version__, "
            "pandas.__version__, numpy.__version__, scipy.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        **ours,
        "evidently_venv": dict(zip(("evidently", "pandas", "numpy", "scipy"), ev, strict=True)),
    }


def bench_size(
    rows: int, runs: int, ev_python: Path, ev_estimate: float | None, ev_max_rows: int
) -> dict[str, Any]:
    """One size. Evidently is warmed up only when no earlier size gave an estimate of its run
    time (``ev_estimate``, scaled by rows); it is skipped above ``ev_max_rows``."""
    folder = ensure_tables(rows)
    load_before = loadavg()
    fit = [measure("ours-fit", folder, sys.executable) for _ in range(1 + runs)][1:]
    engines = [e for e in ENGINES if e != "evidently" or rows <= ev_max_rows]
    pythons = {e: str(ev_python) if e == "evidently" else sys.executable for e in engines}
    samples: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    warm = {e: measure(e, folder, pythons[e]) for e in engines if e != "evidently"}
    ev_wanted = 0
    if "evidently" in engines:
        if ev_estimate is None:
            warm["evidently"] = measure("evidently", folder, pythons["evidently"])
            ev_estimate = warm["evidently"]["seconds"]
        ev_wanted = evidently_runs(ev_estimate, runs)
    for i in range(runs):
        for engine in engines:
            if engine == "evidently" and i >= ev_wanted:
                continue
            samples[engine].append(measure(engine, folder, pythons[engine]))
            print(f"  {rows:>9,} {engine:<10} {samples[engine][-1]['seconds']:8.3f} s", flush=True)
    result = {
        "rows": rows,
        "columns": N_NUMERIC + N_CATEGORICAL,
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "fit": summarize(fit),
        "engines": {e: summarize(samples[e]) for e in engines},
        "evidently_warmup_seconds": warm.get("evidently", {}).get("seconds"),
        "evidently_estimate_seconds": ev_estimate,
    }
    done = result["engines"]
    ours = done["ours"]["median_s"]
    result["ratios"] = {
        "evidently_over_ours": done["evidently"]["median_s"] / ours
        if "evidently" in done
        else None,
        "scipy_over_ours": done["scipy"]["median_s"] / ours,
        "sort_over_ours": done["sort"]["median_s"] / ours,
        "ours_memory_vs_batch": (done["ours"]["batch_bytes"] + done["ours"]["extra_bytes"])
        / done["ours"]["batch_bytes"],
    }
    return result


def summarize(samples: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [s["seconds"] for s in samples]
    return {
        "runs": len(samples),
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "extra_bytes": max(s["extra_bytes"] for s in samples),
        "batch_bytes": samples[0]["batch_bytes"],
        "result": samples[0]["result"],
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | engine | runs | median s (min–max) | extra memory MiB | batch MiB |",
        "|---:|---|---:|---|---:|---:|",
    ]
    for r in results:
        rows = [("ours: fit profile (reference)", r["fit"])]
        rows += [(e, r["engines"][e]) for e in ENGINES if e in r["engines"]]
        for name, s in rows:
            lines.append(
                f"| {r['rows']:,} | {name} | {s['runs']} | {s['median_s']:.3f} "
                f"({s['min_s']:.3f}–{s['max_s']:.3f}) | {s['extra_bytes'] / 2**20:.0f} | "
                f"{s['batch_bytes'] / 2**20:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 3_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--runs-from-3m", type=int, default=3, help="timed runs at 3M rows and more"
    )
    parser.add_argument(
        "--evidently-max-rows", type=int, default=1_000_000, help="skip Evidently above this"
    )
    parser.add_argument("--tag", default="", help="suffix of the results file name")
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "FOLDER", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    ev_python = ensure_evidently_venv()
    started = dt.datetime.now(dt.UTC)
    results = []
    last_ev: tuple[int, float] | None = None  # (rows, Evidently median s) of the last size
    for rows in args.sizes:
        runs = args.runs_from_3m if rows >= 3_000_000 else args.runs
        # Evidently's run time at this size, assumed linear in rows (or None: warm it up)
        estimate = last_ev[1] * rows / last_ev[0] if last_ev else None
        results.append(bench_size(rows, runs, ev_python, estimate, args.evidently_max_rows))
        ev = results[-1]["engines"].get("evidently")
        if ev is not None:
            last_ev = (rows, ev["median_s"])
        r = results[-1]["ratios"]
        ev_ratio = r["evidently_over_ours"]
        print(
            f"{rows:,}: evidently/ours {ev_ratio or float('nan'):.0f}x, "
            f"sort/ours {r['sort_over_ours']:.2f}x, scipy/ours {r['scipy_over_ours']:.1f}x, "
            f"ours memory {r['ours_memory_vs_batch']:.2f}x batch",
            flush=True,
        )
        write_results(started, ev_python, results, args.tag)  # after every size
    print(table(results))


def write_results(started: Any, ev_python: Path, results: list[dict[str, Any]], tag: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    report = {
        "benchmark": "drift-speed",
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "machine": machine(),
        "versions": versions(ev_python),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
        ).stdout.strip(),
        "results": results,
    }
    suffix = f"-{tag}" if tag else ""
    target = RESULTS / f"drift-{started.date().isoformat()}{suffix}.json"
    target.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
