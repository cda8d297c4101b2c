"""Scale benchmark: `check-data` and `drift` on partitioned batches of 1M, 10M and 50M rows,
streaming (this branch) side by side with the whole-batch path (commit 3ffbdbe, main before
streaming, run from a temporary git worktree in the same run), plus the fan-out with 2
parallel workers.

    .venv/bin/python bench/scale.py                             # 1M, 10M, 50M rows (~1 h here)
    .venv/bin/python bench/scale.py --rows 1000000              # quick
    .venv/bin/python bench/scale.py --before-max-rows 10000000  # skip the anchor above 10M
    .venv/bin/python bench/scale.py --rows 50000000 --before-max-rows 50000000 \
        --paths streaming whole_batch                           # the anchor beside streaming
    .venv/bin/python bench/scale.py --rows 50000000 --steps drift \
        --paths streaming whole_frame                           # drift, today's code whole

The whole-batch path needs ~0.33 GiB per million rows (16 GiB at 50M): it runs only when
`MemAvailable` covers that plus 4 GiB for the machine's other users (capped at
`--before-min-available-gib`, 20) at that moment, else the JSON says why it was skipped.

Data: a seeded churn-like table of 11 columns (the demo's ten — customer_id, event_time,
tenure_months, monthly_charges, total_charges, support_calls, contract, payment_method,
internet_service, churned — plus region), in hive folders ``dt=2026-11-0N/`` of 1M-row parquet
files with 250k-row row groups, cached under ``$TMPDIR/airflow-mlops-scale-bench/``. Planted
faults make the gate fail the same way at every size (3 out-of-range tenures, 2 unknown
contracts, one customer_id twice — in the first and the last file), and the features are
shifted against the reference so the drift verdict is "drift".

Each measurement is one fresh process (the CLI, `python -m airflow_mlops_provider.cli`, with
PYTHONPATH at the branch's or the anchor's ``src``): wall time, and peak RSS from ``wait4``'s
``ru_maxrss``. `drift` compares with a saved reference profile (fitted once from a 1M-row
reference batch), so its time is the current batch's. Main's reader does not descend into
partition folders, so it reads a flat folder of symlinks to the same files, in the same order.
`whole_frame` (drift only): today's `compare_profile` on the whole batch as one frame — the
anchor commit's drift method is older, so drift verdicts are compared with this one
(`verdicts_identical`), the anchor's apart (`anchor_verdict_identical`).
Fan-out: one plan process, then 2 map
processes at once (half the slices each: `adapters/fanout.py`, what mapped tasks call), then
one reduce process; wall time is end to end, peak RSS the largest of the processes. Verdicts
(pass/fail, every failure with its count and text; drift decision, drifted features and
every feature's statistic to 9 digits) are compared between all paths and reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DATA = Path(tempfile.gettempdir()) / "airflow-mlops-scale-bench"
FILE_ROWS = 1_000_000
ROW_GROUP = 250_000
DAYS = 5
SEED = 20261201
SIZES = (1_000_000, 10_000_000, 50_000_000)
PATHS = ("streaming", "fanout", "whole_batch", "whole_frame")
# whole_frame: today's drift comparison on the whole batch as one frame — the like-for-like
# anchor for drift verdicts, since the whole_batch commit predates today's drift method
WHOLE_FRAME_GIB_PER_M = 0.2
ANCHOR = "3ffbdbe"  # main before streaming: the whole-batch read
WHOLE_BATCH_GIB_PER_M = 0.33  # its peak per million rows (3.2 GiB at 10M)
HEADROOM_GIB = 4  # left to the other sessions sharing the machine
PIPELINE = """\
pipeline: scale
owner: bench
schedule: null
data:
  source: unused
  format: parquet
  target: churned
  id_column: customer_id
  features:
    numeric: [tenure_months, monthly_charges, total_charges, support_calls]
    categorical: [contract, payment_method, internet_service]
  split: {time_column: event_time, holdout_fraction: 0.2}
contract:
  min_rows: 1000
  columns:
    customer_id: {type: str, unique: true}
    event_time: {type: datetime}
    tenure_months: {type: int, min: 0, max: 72}
    monthly_charges: {type: float, min: 0, max: 500}
    total_charges: {type: float, min: 0}
    support_calls: {type: int, min: 0, max: 50}
    contract: {type: str, allowed: [month-to-month, one-year, two-year]}
    payment_method:
      type: str
      allowed: [electronic-check, mailed-check, bank-transfer, credit-card]
    internet_service: {type: str, allowed: [dsl, fiber, none]}
    churned: {type: int, allowed: [0, 1]}
    region: {type: str, pattern: "^[a-z]+$"}
drift: {alpha: 0.01, correction: bonferroni, drift_share: 0.25}
training: {compute: local, command: [python, train.py]}
evaluation:
  metrics: {roc_auc: {min: 0.6}}
  on_missing_champion: promote
"""


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def dataset(rows: int, *, drifted: bool, name: str) -> Path:
    """The cached batch folder of `rows` rows (written once; `_SUCCESS` marks it whole)."""
    folder = DATA / name
    if (folder / "_SUCCESS").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    files = -(-rows // FILE_ROWS)
    for index in range(files):
        count = min(FILE_ROWS, rows - index * FILE_ROWS)
        day = folder / f"dt=2026-11-0{1 + index * DAYS // files}"
        day.mkdir(parents=True, exist_ok=True)
        table = _table(index, count, drifted, last=index == files - 1)
        import pyarrow.parquet as pq

        pq.write_table(table, day / f"part-{index:05d}.parquet", row_group_size=ROW_GROUP)
    (folder / "_SUCCESS").touch()
    return folder


def _table(index: int, rows: int, drifted: bool, *, last: bool) -> Any:
    from datetime import date

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    sys.path.insert(0, str(REPO / "include" / "demo"))
    from generate import _event_times, _features, churn_logit  # the demo's own generator

    rng = np.random.default_rng([SEED, index, int(drifted)])
    features = _features(rng, rows, drifted)
    start = index * FILE_ROWS
    ids = pc.binary_join_element_wise(
        "C",
        pc.utf8_lpad(pc.cast(pa.array(np.arange(start, start + rows)), pa.string()), 9, "0"),
        "",
    )
    churn = rng.random(rows) < 1 / (1 + np.exp(-churn_logit(features, drifted)))
    columns = {
        "customer_id": ids,
        "event_time": _event_times(rng, rows, date(2026, 11, 8)),
        **features,
        "churned": churn.astype(np.int64),
        "region": rng.choice(np.array(["north", "south", "east", "west"]), rows),
    }
    table = pa.table(columns)
    if index == 0:  # planted faults, the same at every size
        tenure = table["tenure_months"].to_numpy().copy()
        tenure[[10, 500, 900]] = 99
        table = table.set_column(2, "tenure_months", pa.array(tenure))
    if last:
        contract = table["contract"].to_numpy(zero_copy_only=False).copy()
        contract[[-3, -2]] = "lifetime"
        ids = table["customer_id"].to_numpy(zero_copy_only=False).copy()
        ids[-1] = "C000000007"  # the 8th customer of the first file, again
        table = table.set_column(6, "contract", pa.array(contract))
        table = table.set_column(0, "customer_id", pa.array(ids))
    return table


def flat_view(folder: Path) -> Path:
    """The same part files as symlinks in one flat folder, in the same order: the anchor's reader
    lists only a folder's own files (no partition subfolders)."""
    view = folder.with_name(folder.name + "-flat")
    if not (view / "_SUCCESS").exists():
        view.mkdir(exist_ok=True)
        for part in sorted(folder.rglob("part-*.parquet")):
            link = view / part.name
            if not link.exists():
                link.symlink_to(part)
        (view / "_SUCCESS").touch()
    return view


def reference_profile() -> Path:
    path = DATA / "reference-profile.json"
    if not path.exists():
        folder = dataset(FILE_ROWS, drifted=False, name="reference-1000000")
        code = (
            "import json, sys; from pathlib import Path\n"
            "from airflow_mlops_provider.adapters.reader import open_batch\n"
            "from airflow_mlops_provider.adapters.storage import Storage\n"
            "from airflow_mlops_provider.adapters.drift_batch import fit_batch\n"
            "b = open_batch(Storage(Path('/')), sys.argv[1])\n"
            "p = fit_batch(b, numeric=['tenure_months','monthly_charges','total_charges',"
            "'support_calls'], categorical=['contract','payment_method','internet_service'])\n"
            "Path(sys.argv[2]).write_text(json.dumps(p.to_dict(), allow_nan=False))\n"
        )
        subprocess.run([sys.executable, "-c", code, str(folder), str(path)], check=True,
                       env=_env(REPO / "src"))  # fmt: skip
    return path


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------


def _env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src), "GX_ANALYTICS_ENABLED": "false"}


def run_timed(command: list[str], src: Path) -> dict[str, Any]:
    """Run one process; its wall time, peak RSS (MiB, its own: reaped with wait4), exit code
    and last line of stdout."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        process = subprocess.Popen(
            command, stdout=out_file, stderr=err_file, env=_env(src), cwd=DATA
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read().decode(), err_file.read().decode()
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "exit": process.returncode,
        "stdout": out.strip().splitlines()[-1] if out.strip() else "",
        "stderr_tail": err.strip().splitlines()[-3:],
    }


def cli(src: Path, *args: str) -> dict[str, Any]:
    return run_timed([sys.executable, "-m", "airflow_mlops_provider.cli", *args], src)


def fanout(kind: str, folder: Path, workers: int) -> dict[str, Any]:
    """plan → `workers` map processes at once → reduce; end-to-end wall, largest RSS."""
    work = Path(tempfile.mkdtemp(prefix=f"fanout-{kind}-", dir=DATA))
    child = [sys.executable, str(Path(__file__).resolve()), "--child"]
    started = time.monotonic()
    plan = run_timed([*child, "plan", str(folder), str(work)], REPO / "src")
    slices = json.loads((work / "plan.json").read_text())["slices"]
    halves = [list(range(len(slices)))[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        maps = list(pool.map(
            lambda ids: run_timed([*child, f"map-{kind}", str(work), ",".join(map(str, ids))],
                                  REPO / "src"),
            halves,
        ))  # fmt: skip
    reduce = run_timed([*child, f"reduce-{kind}", str(work)], REPO / "src")
    seconds = time.monotonic() - started
    processes = [plan, *maps, reduce]
    shutil.rmtree(work, ignore_errors=True)
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(sum(p["cpu_seconds"] for p in processes), 2),
        # with a free core per worker the wall time would be this (CPU of the longest path)
        "critical_path_cpu_seconds": round(
            plan["cpu_seconds"] + max(m["cpu_seconds"] for m in maps) + reduce["cpu_seconds"], 2
        ),
        "peak_rss_mib": max(p["peak_rss_mib"] for p in processes),
        "exit": reduce["exit"],
        "stdout": reduce["stdout"],
        "slices": len(slices),
        "stages": {
            "plan_s": plan["seconds"],
            "map_s": [m["seconds"] for m in maps],
            "map_cpu_s": [m["cpu_seconds"] for m in maps],
            "reduce_s": reduce["seconds"],
        },
        "failed": [p["stderr_tail"] for p in processes if p["exit"] not in (0, 1)],
    }


def engines(folder: str) -> dict[str, Any]:
    """Per 500k-row chunk: the contract's value checks by GX (what streaming runs) against
    the same checks written with pyarrow.compute, and the conversion GX needs — the evidence
    for GX per chunk vs checks of our own (median of 3 after a warm-up)."""
    import datetime as dt
    import statistics

    import pyarrow as pa
    import pyarrow.compute as pc

    from airflow_mlops_provider.adapters.great_expectations import frame_part
    from airflow_mlops_provider.adapters.reader import open_batch
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.arrow_types import to_pandas
    from airflow_mlops_provider.core.contract import checks_from_contract
    from airflow_mlops_provider.spec.loader import load_pipeline_file

    spec = load_pipeline_file(DATA / "scale.yaml")
    checks = checks_from_contract(spec.contract)
    table = next(open_batch(Storage(DATA), folder).tables(chunk_rows=500_000))
    now = dt.datetime.now(dt.UTC)

    def arrow_checks() -> None:
        for name, rule in spec.contract.columns.items():
            column = table[name]
            pc.sum(pc.is_null(column))
            if rule.min is not None or rule.max is not None:
                pc.sum(pc.or_(pc.less(column, rule.min or 0), pc.greater(column, rule.max or 1e18)))
            if rule.allowed is not None:
                pc.sum(pc.invert(pc.is_in(column, value_set=pa.array(rule.allowed))))
            if rule.pattern is not None:
                pc.sum(pc.invert(pc.match_substring_regex(column, rule.pattern)))
            if rule.type == "datetime":
                pc.max(column)
            if rule.type == "float":
                pc.sum(pc.is_inf(column))

    timings: dict[str, list[float]] = {"to_pandas": [], "gx_checks": [], "arrow_checks": []}
    for round_ in range(4):
        started = time.perf_counter()
        frame = to_pandas(table)
        stamp = time.perf_counter()
        frame_part(frame, checks, now=now, deferred=("unique", "unique_key"))
        done = time.perf_counter()
        arrow_checks()
        end = time.perf_counter()
        if round_:
            timings["to_pandas"].append(stamp - started)
            timings["gx_checks"].append(done - stamp)
            timings["arrow_checks"].append(end - done)
    return {
        "rows": table.num_rows,
        **{k: round(statistics.median(v), 3) for k, v in timings.items()},
    }


def child(argv: list[str]) -> int:
    """The fan-out's processes: plan, map-<kind> (slice ids), reduce-<kind>; and engines."""
    from airflow_mlops_provider.adapters import fanout as fan
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.contract import checks_from_contract
    from airflow_mlops_provider.core.drift_profile import DriftProfile
    from airflow_mlops_provider.services.validation import contract_types
    from airflow_mlops_provider.spec.loader import load_pipeline_file

    step = argv[0]
    if step == "engines":
        print(json.dumps(engines(argv[1])))
        return 0
    if step == "whole-drift":
        return whole_frame_drift(argv[1])
    work = Path(argv[2] if step == "plan" else argv[1])
    spec = load_pipeline_file(DATA / "scale.yaml")
    storage, types = Storage(DATA), contract_types(spec.contract)
    checks = checks_from_contract(spec.contract)
    if step == "plan":
        plan = fan.plan_slices(storage, argv[1], slices=max(2, _rows(argv[1]) // 2_500_000),
                               types=types)  # fmt: skip
        (work / "plan.json").write_text(json.dumps(plan))
        return 0
    plan = json.loads((work / "plan.json").read_text())
    profile = DriftProfile.from_dict(json.loads(reference_profile().read_text()))
    settings = spec.drift.compare_settings()
    if step.startswith("map-"):
        for i in map(int, argv[2].split(",")):
            slice_ = plan["slices"][i]
            if step == "map-check":
                part = fan.validate_map(storage, plan, slice_, checks, types=types,
                                        spill_to=str(work / "spill"))  # fmt: skip
            else:
                part = fan.drift_map(storage, plan, slice_, profile, types=types,
                                     prediction_column=settings["prediction_column"])  # fmt: skip
            (work / f"part-{i:05d}.json").write_text(json.dumps(part))
        return 0
    parts = [json.loads(p.read_text()) for p in sorted(work.glob("part-*.json"))]
    if step == "reduce-check":
        result = fan.validate_reduce(storage, checks, parts)
        print(json.dumps(_check_summary(result)))
        return 0 if result.passed else 1
    report = fan.drift_reduce(profile, parts, settings)
    print(json.dumps(report.summary()))
    return 1 if report.dataset_drift else 0


def whole_frame_drift(folder: str) -> int:
    """Today's `compare_profile` on the whole batch read as one pandas frame (no chunks)."""
    import pyarrow.dataset as pads

    from airflow_mlops_provider.core.arrow_types import to_pandas
    from airflow_mlops_provider.core.drift import compare_profile
    from airflow_mlops_provider.core.drift_profile import DriftProfile
    from airflow_mlops_provider.spec.loader import load_pipeline_file

    settings = load_pipeline_file(DATA / "scale.yaml").drift.compare_settings()
    profile = DriftProfile.from_dict(json.loads(reference_profile().read_text()))
    dataset = pads.dataset(folder, format="parquet", partitioning="hive")
    predicted = settings.get("prediction_column")
    columns = [*profile.columns, *([predicted] if predicted in dataset.schema.names else [])]
    report = compare_profile(profile, to_pandas(dataset.to_table(columns=columns)), **settings)
    print(json.dumps(report.summary()))
    return 1 if report.dataset_drift else 0


def _rows(folder: str) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in Path(folder).rglob("part-*.parquet"))


def _check_summary(result: Any) -> dict[str, Any]:
    """The fields of `check-data`'s JSON summary that carry the verdict."""
    return {
        "passed": result.passed,
        "rows": result.row_count,
        "failures": [
            {"rule": f.check.rule, "column": f.check.column, "check": f.check.describe(),
             "observed": f.observed, "unexpected_count": f.unexpected_count}
            for f in result.failures()
        ],
    }  # fmt: skip


def verdict(kind: str, stdout: str) -> Any:
    """What must be identical between paths."""
    if not stdout.startswith("{"):
        return None
    data = json.loads(stdout)
    if "error" in data:
        return {"error": data["error"]}
    if kind == "check":
        return {k: data[k] for k in ("passed", "rows", "failures")}
    return {
        "dataset_drift": data["dataset_drift"],
        "drifted_features": data["drifted_features"],
        "features": [
            (f["feature"], f["test"], f["drifted"], None if f["statistic"] is None
             else float(f"{f['statistic']:.9g}"))
            for f in data["features"]
        ],
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------


def anchor_worktree(revision: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="anchor-", dir=DATA)) / "repo"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), revision],
                   check=True, capture_output=True)  # fmt: skip
    return path


def available_gib() -> float:
    """MemAvailable now: the whole-batch anchor needs ~0.33 GiB per million rows."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return 0.0


def run_size(
    rows: int,
    before_src: Path | None,
    workers: int,
    min_available_gib: float,
    paths: tuple[str, ...] = PATHS,
    steps: tuple[str, ...] = ("check", "drift"),
) -> dict[str, Any]:
    folder = dataset(rows, drifted=True, name=f"current-{rows}")
    profile = reference_profile()
    pipeline = str(DATA / "scale.yaml")
    after = REPO / "src"
    entry: dict[str, Any] = {"rows": rows, "files": len(list(folder.rglob("part-*.parquet")))}
    entry["bytes"] = sum(p.stat().st_size for p in folder.rglob("part-*.parquet"))
    jobs = {
        "check": ("check-data", pipeline, str(folder)),
        "drift": ("drift", "--reference", str(profile), "--current", str(folder),
                  "--pipeline", pipeline),
    }  # fmt: skip
    for kind, args in jobs.items():
        if kind not in steps:
            continue
        result: dict[str, Any] = {"loadavg_before": os.getloadavg()[0]}
        if "streaming" in paths:
            result["streaming"] = cli(after, *args)
        if "fanout" in paths:
            result["fanout"] = fanout(kind, folder, workers)
        available = result["available_gib_before_whole_batch"] = available_gib()
        needed = min(min_available_gib, WHOLE_BATCH_GIB_PER_M * rows / 1e6 + HEADROOM_GIB)
        if "whole_batch" not in paths:
            result["whole_batch_skipped"] = "not asked for (--paths)"
        elif before_src is None:
            result["whole_batch_skipped"] = "above --before-max-rows"
        elif available < needed:
            result["whole_batch_skipped"] = f"{available} GiB available, {needed:.1f} needed"
        else:
            flat = str(flat_view(folder))
            result["whole_batch"] = cli(
                before_src, *[flat if a == str(folder) else a for a in args]
            )
        if kind == "drift" and "whole_frame" in paths:
            result["whole_frame"] = _whole_frame(folder, rows)
        verdicts = {path: verdict(kind, result[path]["stdout"]) for path in PATHS if path in result}
        # today's code three ways (streaming, fanout, whole_frame); the anchor commit apart,
        # since its drift method is older. None: nothing to compare with.
        result["verdicts_identical"] = _same(
            [v for path, v in verdicts.items() if path != "whole_batch"]
        )
        if "whole_batch" in verdicts:
            result["anchor_verdict_identical"] = _same(list(verdicts.values()))
        result["verdict"] = next(iter(verdicts.values()))
        result["loadavg_after"] = os.getloadavg()[0]
        entry[kind] = result
        print(_line(rows, kind, result), flush=True)
    return entry


def _whole_frame(folder: Path, rows: int) -> dict[str, Any]:
    needed = WHOLE_FRAME_GIB_PER_M * rows / 1e6 + HEADROOM_GIB
    if available_gib() < needed:
        return {"skipped": f"{available_gib()} GiB available, {needed:.1f} needed"}
    child = [sys.executable, str(Path(__file__).resolve()), "--child", "whole-drift"]
    return run_timed([*child, str(folder)], REPO / "src")


def _same(verdicts: list[Any]) -> bool | None:
    if len(verdicts) < 2:
        return None
    return None not in verdicts and len({json.dumps(v) for v in verdicts}) == 1


def _line(rows: int, kind: str, result: dict[str, Any]) -> str:
    parts = [f"{rows:>11,} {kind:5}"]
    for path in PATHS:
        if "seconds" in result.get(path, {}):
            r = result[path]
            parts.append(
                f"{path} {r['seconds']:7.1f} s ({r['cpu_seconds']:6.1f} s CPU) "
                f"{r['peak_rss_mib']:6.0f} MiB"
            )
    same = result["verdicts_identical"]
    parts.append("one path" if same is None else "same verdicts" if same else "VERDICTS DIFFER")
    if "anchor_verdict_identical" in result:
        parts.append(f"anchor {'same' if result['anchor_verdict_identical'] else 'differs'}")
    return " | ".join(parts)


def machine() -> dict[str, Any]:
    from importlib import metadata

    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = sorted({line.split(":", 1)[1].strip() for line in lines if line.startswith("model")})
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "versions": {
            d: metadata.version(d) for d in ("pyarrow", "pandas", "numpy", "great-expectations")
        },  # fmt: skip
        "commit": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),  # fmt: skip
        "main_commit": subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "main"], capture_output=True, text=True
        ).stdout.strip(),  # fmt: skip
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return child(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--before-max-rows", type=int, default=10_000_000,
                        help="run the whole-batch anchor only up to this size")  # fmt: skip
    parser.add_argument("--before-min-available-gib", type=float, default=20.0,
                        help="the most memory the anchor may ask to be available")  # fmt: skip
    parser.add_argument("--anchor", default=ANCHOR, help="the whole-batch commit to compare with")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS),
                        help="the paths to run (the anchor beside streaming alone)")  # fmt: skip
    parser.add_argument(
        "--steps", nargs="+", choices=("check", "drift"), default=["check", "drift"]
    )
    parser.add_argument("--out", type=Path, help="the results JSON (default: dated)")
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "scale.yaml").write_text(PIPELINE)
    before = anchor_worktree(args.anchor)
    RESULTS.mkdir(exist_ok=True)
    out = args.out or RESULTS / f"scale-{time.strftime('%Y-%m-%d')}.json"
    record = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "workers": args.workers,
        "anchor": args.anchor,
        "sizes": [],
    }
    probe = run_timed(
        [sys.executable, str(Path(__file__).resolve()), "--child", "engines",
         str(dataset(min(args.rows), drifted=True, name=f"current-{min(args.rows)}"))],
        REPO / "src",
    )  # fmt: skip
    record["engines"] = json.loads(probe["stdout"]) if probe["exit"] == 0 else probe
    print(f"engines per chunk: {record['engines']}", flush=True)
    try:
        for rows in args.rows:  # the JSON is rewritten after each size: a long run keeps its parts
            before_src = before / "src" if rows <= args.before_max_rows else None
            record["sizes"].append(
                run_size(
                    rows,
                    before_src,
                    args.workers,
                    args.before_min_available_gib,
                    tuple(args.paths),
                    tuple(args.steps),
                )
            )
            out.write_text(json.dumps(record, indent=2) + "\n")
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)],
                       check=False, capture_output=True)  # fmt: skip
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
