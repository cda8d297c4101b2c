"""Data-gate benchmark: our contract → checks → GX adapter vs the same checks in plain GX 1.x.

    .venv/bin/python bench/validate.py                 # 1,000,000 and 100,000 rows
    .venv/bin/python bench/validate.py --rows 100000   # quick run
    .venv/bin/python bench/validate.py --profile       # + cProfile of one run of each variant

A seeded 50-column table (id, 25 float, 10 int, 10 str categories, 3 datetime, 1 bool) is
written once to a temp parquet file, with a contract of one `ColumnRule` per column built with
the provider's pydantic models (`ContractSpec`). Two deliberate faults (a few float values out
of range, a few unknown categories) make two checks fail, so failures are compared too.

Variants, each run in a FRESH Python process (this file is also the child):

- ours:  `validate_frame(frame, checks_from_contract(ContractSpec.model_validate(contract)))`
- plain: the same checks written directly against Great Expectations 1.x from the contract
  dict, without the provider: ephemeral context, pandas datasource, dataframe asset,
  whole-dataframe batch definition, ONE ExpectationSuite, ONE `batch.validate(suite)`.

Each child times (1) the imports (plain: `import great_expectations`; ours: GX + the adapter,
the contract module and the pydantic spec models), (2) the load (`pd.read_parquet`), (3) the
validation, and reports its peak RSS (VmHWM from /proc/self/status) and its RSS after
the load. One warm-up round, then `--runs` rounds (ours and plain interleaved); medians.
Both must give the same pass/fail per check (asserted, with one documented exception: see
`KNOWN_GX_DIFFERENCES`). A last child runs the repo's `dags/pipelines.py` loader via runpy
and asserts that parsing DAGs does not import `great_expectations`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DATA_DIR = Path(tempfile.gettempdir()) / "airflow-mlops-validate-bench"
PYCACHE_PREFIX = Path(tempfile.gettempdir()) / "airflow-mlops-validate-bench-pycache"
DEFAULT_ROWS = (1_000_000, 100_000)
VARIANTS = ("ours", "plain")
SEED = 20261123
TARGET_OVERHEAD = 1.10  # ours within 10 % of plain GX
# Same result detail in both variants: counts plus up to 20 unexpected values.
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 20}
# Checks where plain GX 1.24 and ours disagree by design: GX compares dtype objects, and no
# type name it accepts equals pandas 3's default string dtype, so a str column never passes
# ExpectColumnValuesToBeInTypeList there (the adapter's docstring explains its workaround).
KNOWN_GX_DIFFERENCES = "column_type of str columns: plain GX fails on pandas 3 dtype 'str'"
HEAVY = ("great_expectations", "pandas", "pyarrow", "scipy", "mlflow", "sklearn")

N_FLOAT, N_INT, N_STR, N_TIME = 25, 10, 10, 3


# --------------------------------------------------------------------------- data + contract


def column_names() -> list[str]:
    return [
        "id",
        *(f"f{i:02d}" for i in range(N_FLOAT)),
        *(f"i{i:02d}" for i in range(N_INT)),
        *(f"s{i:02d}" for i in range(N_STR)),
        *(f"t{i}" for i in range(N_TIME)),
        "flag",
    ]


def int_high(i: int) -> int:
    """Exclusive upper bound of int column i: 10 to 100,000, or 6 and 12 for the two
    columns with an allowed set (small sets: GX copies value sets into every metric key)."""
    return {8: 6, 9: 12}.get(i, 10 ** (i % 5 + 1))


def categories(i: int) -> list[str]:
    """Allowed values of str column i: 3 to 21 categories."""
    return [f"c{i}_{k:02d}" for k in range(3 + 2 * i)]


def example_contract(rows: int, rule_fields: set[str]) -> dict[str, Any]:
    """A contract dict (ContractSpec shape): one rule per column, 50 in all.

    Optional rule kinds (`unique`, `pattern`, `max_null_fraction`, `severity`) are used only
    when the model has them.
    """
    columns: dict[str, dict[str, Any]] = {"id": {"type": "int", "min": 0}}
    if "unique" in rule_fields:
        columns["id"]["unique"] = True
    for i in range(N_FLOAT):
        # f00-f04 may be missing (1 %); bounds are ±10 sigma around the column's mean.
        rule: dict[str, Any] = {
            "type": "float",
            "min": 100.0 * i - 10.0 * (i + 1),
            "max": 100.0 * i + 10.0 * (i + 1),
        }
        if i < 5:
            rule["required"] = False
            if i < 2 and "max_null_fraction" in rule_fields:
                del rule["required"]  # implied by max_null_fraction
                rule["max_null_fraction"] = 0.05
        columns[f"f{i:02d}"] = rule
    for i in range(N_INT):
        rule = {"type": "int", "min": 0, "max": int_high(i) - 1}
        if i >= 8:
            rule = {"type": "int", "allowed": list(range(int_high(i)))}
        columns[f"i{i:02d}"] = rule
    for i in range(N_STR):
        rule = {"type": "str", "required": i < 8, "allowed": categories(i)}
        if i == 1 and "pattern" in rule_fields:
            rule["pattern"] = r"^c1_\d\d$"
        if i == 3 and "severity" in rule_fields:
            rule["severity"] = "warn"  # its unknown categories warn instead of failing
        columns[f"s{i:02d}"] = rule
    for i in range(N_TIME):
        columns[f"t{i}"] = {"type": "datetime"}
    columns["flag"] = {"type": "bool"}
    return {"columns": columns, "min_rows": 1, "max_rows": 10 * rows, "allow_extra_columns": False}


def write_table(rows: int, path: Path) -> None:
    """The seeded table, with two faults: f07 out of range in 37 rows, s03 unknown in 11."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(SEED)
    data: dict[str, pa.Array] = {"id": pa.array(np.arange(rows, dtype=np.int64))}
    for i in range(N_FLOAT):
        values = rng.normal(100.0 * i, i + 1.0, rows)
        mask = rng.random(rows) < 0.01 if i < 5 else None
        if i == 7:
            values[rng.choice(rows, 37, replace=False)] = 1e6
        data[f"f{i:02d}"] = pa.array(values, mask=mask)
    for i in range(N_INT):
        data[f"i{i:02d}"] = pa.array(rng.integers(0, int_high(i), rows, dtype=np.int64))
    for i in range(N_STR):
        cats = categories(i)
        index = rng.integers(0, len(cats), rows, dtype=np.int32)
        dictionary = cats + ["unknown"]
        if i == 3:
            index[rng.choice(rows, 11, replace=False)] = len(cats)
        mask = rng.random(rows) < 0.02 if i >= 8 else None
        array = pa.DictionaryArray.from_arrays(pa.array(index, mask=mask), pa.array(dictionary))
        data[f"s{i:02d}"] = array.dictionary_decode()
    start = np.datetime64("2025-01-01T00:00:00", "us").astype(np.int64)
    for i in range(N_TIME):
        offsets = rng.integers(0, 365 * 86_400 * 10**6, rows, dtype=np.int64)
        data[f"t{i}"] = pa.array(start + offsets, type=pa.timestamp("us"))
    data["flag"] = pa.array(rng.random(rows) < 0.3)
    table = pa.table(data)
    assert table.column_names == column_names() and len(column_names()) == 50
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)


# --------------------------------------------------------------------------- children


def status_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KiB. VmHWM restarts at exec;
    `getrusage(...).ru_maxrss` does not on Linux (a child inherits its parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


# Stages reported from the cProfile of a child: label -> (file suffix, function name).
PROFILE_STAGES = {
    "checks_from_contract": ("core/contract.py", "checks_from_contract"),
    "ContractSpec.model_validate": ("pydantic/main.py", "model_validate"),
    "validate_frame": ("adapters/great_expectations.py", "validate_frame"),
    "gx.get_context": ("context_factory.py", "get_context"),
    "context.suites.add": ("suite_factory.py", "add"),
    "context.validation_definitions.add": ("validation_definition_factory.py", "add"),
    "ValidationDefinition.run": ("core/validation_definition.py", "run"),
    "ValidationDefinition.is_fresh": ("core/validation_definition.py", "is_fresh"),
    "store_validation_results": ("validation_results_store.py", "store_validation_results"),
    "batch.validate": ("datasource/fluent/interfaces.py", "validate"),
    "Validator.validate_expectation_suite": ("v1_validator.py", "validate_expectation_suite"),
    "adapter _check_result": ("adapters/great_expectations.py", "_check_result"),
    "adapter _expectation": ("adapters/great_expectations.py", "_expectation"),
}


def profile_stages(stats: Any) -> dict[str, float]:
    """Cumulative seconds (under the profiler) of the PROFILE_STAGES that ran."""
    found: dict[str, float] = {}
    for (filename, _, func), (_, _, _, cumtime, _) in stats.stats.items():
        for label, (suffix, name) in PROFILE_STAGES.items():
            if func == name and filename.endswith(suffix):
                found[label] = found.get(label, 0.0) + cumtime
    return found


def plain_gx_validate(frame: Any, contract: dict[str, Any]) -> dict[str, bool]:
    """The checks of `contract` written directly against Great Expectations 1.x."""
    import math

    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    type_names = {
        "int": ["int64"],
        "float": ["float64"],
        "str": ["str"],
        "bool": ["bool"],
        "datetime": ["datetime64[us]", "datetime64[ns]"],
    }
    expectations: list[Any] = []

    def add(key: str, expectation: Any) -> None:
        expectation.meta = {"key": key}
        expectations.append(expectation)

    cols = contract["columns"]
    add(
        "row_count:",
        gxe.ExpectTableRowCountToBeBetween(
            min_value=contract["min_rows"], max_value=contract["max_rows"]
        ),
    )
    add(
        "no_extra_columns:",
        gxe.ExpectTableColumnsToMatchSet(column_set=sorted(cols), exact_match=True),
    )
    for name, rule in cols.items():
        add(f"column_exists:{name}", gxe.ExpectColumnToExist(column=name))
        add(
            f"column_type:{name}",
            gxe.ExpectColumnValuesToBeInTypeList(column=name, type_list=type_names[rule["type"]]),
        )
        if rule.get("required", True):
            add(f"not_null:{name}", gxe.ExpectColumnValuesToNotBeNull(column=name))
        if rule.get("min") is not None or rule.get("max") is not None:
            add(
                f"between:{name}",
                gxe.ExpectColumnValuesToBeBetween(
                    column=name, min_value=rule.get("min"), max_value=rule.get("max")
                ),
            )
        if rule["type"] == "float":
            add(
                f"finite:{name}",
                gxe.ExpectColumnValuesToNotBeInSet(column=name, value_set=[math.inf, -math.inf]),
            )
        if rule.get("max_null_fraction") is not None:
            add(
                f"null_fraction:{name}",
                gxe.ExpectColumnValuesToNotBeNull(
                    column=name, mostly=1.0 - rule["max_null_fraction"]
                ),
            )
        if rule.get("allowed") is not None:
            add(
                f"in_set:{name}",
                gxe.ExpectColumnValuesToBeInSet(column=name, value_set=rule["allowed"]),
            )
        if rule.get("unique"):
            add(f"unique:{name}", gxe.ExpectColumnValuesToBeUnique(column=name))
        if rule.get("pattern"):
            add(
                f"pattern:{name}",
                gxe.ExpectColumnValuesToMatchRegex(column=name, regex=rule["pattern"]),
            )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("pandas")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name="contract", expectations=expectations)
    run = batch.validate(suite, result_format=RESULT_FORMAT)
    return {r.expectation_config.meta["key"]: bool(r.success) for r in run.results}


def child(variant: str, parquet: Path, contract_path: Path, out: Path, profile: bool) -> None:
    """One measured run in this (fresh) process; writes timings and outcomes to `out`."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import logging

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    rec: dict[str, Any] = {"variant": variant}
    before = set(sys.modules)
    t0 = time.perf_counter()
    if variant == "ours":
        import great_expectations  # noqa: F401  (validate_frame imports it lazily)

        from airflow_mlops_provider.adapters.great_expectations import validate_frame
        from airflow_mlops_provider.core.contract import checks_from_contract
        from airflow_mlops_provider.spec import ContractSpec
    else:
        import great_expectations  # noqa: F401
    t1 = time.perf_counter()
    import pandas as pd

    frame = pd.read_parquet(parquet)
    t2 = time.perf_counter()
    load_s = t2 - t1
    rec["rss_after_load_kib"] = status_kib("VmRSS")
    rec["peak_rss_before_validate_kib"] = status_kib("VmHWM")
    contract = json.loads(contract_path.read_text())

    def work() -> dict[str, bool]:
        if variant == "ours":
            checks = checks_from_contract(ContractSpec.model_validate(contract))
            result = validate_frame(frame, checks)
            return {f"{r.check.rule}:{r.check.column or ''}": r.success for r in result.results}
        return plain_gx_validate(frame, contract)

    if profile:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        t2 = time.perf_counter()
        outcomes = profiler.runcall(work)
        t3 = time.perf_counter()
        rec["profile_stages_s"] = profile_stages(pstats.Stats(profiler))
        for sort in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(sort).print_stats(30)
            rec[f"profile_{sort}"] = text.getvalue()
    else:
        t2 = time.perf_counter()
        outcomes = work()
        t3 = time.perf_counter()
    rec.update(
        import_s=t1 - t0,
        load_s=load_s,
        validate_s=t3 - t2,
        total_s=(t1 - t0) + load_s + (t3 - t2),
        maxrss_kib=status_kib("VmHWM"),
        rows=len(frame),
        dtypes=sorted({str(d) for d in frame.dtypes}),
        outcomes=outcomes,
        new_modules=[m for m in HEAVY if m in sys.modules and m not in before],
    )
    out.write_text(json.dumps(rec))


def parse_child(out: Path) -> None:
    """Run the repo's DAG loader like a DAG processor would; record what it imported."""
    import runpy

    before = set(sys.modules)
    t0 = time.perf_counter()
    namespace = runpy.run_path(str(REPO / "dags" / "pipelines.py"), run_name="pipelines")
    elapsed = time.perf_counter() - t0
    from airflow.sdk import DAG

    dags = sorted(k for k, v in namespace.items() if isinstance(v, DAG))
    rec = {
        "seconds": elapsed,
        "dags": dags,
        "great_expectations_imported": "great_expectations" in sys.modules,
        "heavy_modules_added": [m for m in HEAVY if m in sys.modules and m not in before],
    }
    out.write_text(json.dumps(rec))
    assert dags, "the loader built no DAGs"
    assert "great_expectations" not in sys.modules, "DAG parsing imported great_expectations"


# --------------------------------------------------------------------------- driver


def child_env(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIRFLOW") and k != "PYTHONDONTWRITEBYTECODE"
    }
    home = root / "airflow-home"
    home.mkdir(exist_ok=True)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        GX_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="True",
        SCARF_NO_ANALYTICS="True",
        PYTHONPYCACHEPREFIX=str(PYCACHE_PREFIX),
    )
    return env


def run_child(args: list[str], root: Path) -> dict[str, Any]:
    out = root / "child.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), *args, str(out)]
    proc = subprocess.run(cmd, env=child_env(root), capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def compare_outcomes(ours: dict[str, bool], plain: dict[str, bool], contract: dict) -> list[str]:
    """Assert the same pass/fail per check; return the keys of known GX differences."""
    assert set(ours) == set(plain), f"check sets differ: {set(ours) ^ set(plain)}"
    str_types = {f"column_type:{c}" for c, r in contract["columns"].items() if r["type"] == "str"}
    differ = sorted(k for k in ours if ours[k] != plain[k])
    unexplained = [k for k in differ if not (k in str_types and ours[k] and not plain[k])]
    assert not unexplained, f"ours and plain GX disagree on {unexplained}"
    return differ


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_rows(rows: int, runs: int, profile: bool, root: Path) -> dict[str, Any]:
    from airflow_mlops_provider.core.contract import checks_from_contract
    from airflow_mlops_provider.spec import ColumnRule, ContractSpec

    DATA_DIR.mkdir(exist_ok=True)
    parquet = DATA_DIR / f"table-{rows}-{SEED}.parquet"
    t0 = time.perf_counter()
    if not parquet.exists():
        write_table(rows, parquet)
    print(
        f"[{rows:,} rows] table {parquet} ({parquet.stat().st_size / 2**20:.0f} MiB, "
        f"written in {time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    contract = example_contract(rows, set(ColumnRule.model_fields))
    spec = ContractSpec.model_validate(contract)
    checks = checks_from_contract(spec)
    contract_path = root / f"contract-{rows}.json"
    contract_path.write_text(json.dumps(spec.model_dump(mode="json", exclude_none=True)))
    contract_dump = json.loads(contract_path.read_text())

    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    loads = []
    for rnd in range(runs + 1):  # round 0 is the warm-up
        load_before = os.getloadavg()[0]
        for variant in VARIANTS:
            rec = run_child(["--child", variant, str(parquet), str(contract_path)], root)
            if rnd:
                samples[variant].append(rec)
        loads.append(load_before)
        if not rnd:
            print(f"  round 0 (warm-up): load {load_before:.2f}", flush=True)
            continue
        ours, plain = samples["ours"][-1:], samples["plain"][-1:]
        print(
            f"  round {rnd}: load {load_before:.2f}; "
            + "  ".join(
                f"{v} validate {s[0]['validate_s']:.2f} s"
                for v, s in (("ours", ours), ("plain", plain))
            ),
            flush=True,
        )
    differ = compare_outcomes(
        samples["ours"][0]["outcomes"], samples["plain"][0]["outcomes"], contract_dump
    )
    failed = sorted(k for k, ok in samples["ours"][0]["outcomes"].items() if not ok)

    summary: dict[str, Any] = {
        "rows": rows,
        "columns": len(contract["columns"]),
        "contract_rules": len(contract["columns"]),
        "rule_fields": sorted(ColumnRule.model_fields),
        "checks": len(checks),
        "checks_by_rule": {
            r: sum(c.rule == r for c in checks) for r in dict.fromkeys(c.rule for c in checks)
        },
        "parquet_mib": parquet.stat().st_size / 2**20,
        "dtypes": samples["ours"][0]["dtypes"],
        "failed_checks_ours": failed,
        "known_gx_differences": {"keys": differ, "why": KNOWN_GX_DIFFERENCES},
        "loadavg_1m": {"rounds": loads, "after": os.getloadavg()[0]},
        "variants": {},
    }
    for variant, recs in samples.items():
        summary["variants"][variant] = {
            key: stats([r[key] for r in recs])
            for key in ("import_s", "load_s", "validate_s", "total_s")
        } | {
            "maxrss_mib": stats([r["maxrss_kib"] / 1024 for r in recs]),
            "rss_after_load_mib": stats([r["rss_after_load_kib"] / 1024 for r in recs]),
            "peak_rss_before_validate_mib": stats(
                [r["peak_rss_before_validate_kib"] / 1024 for r in recs]
            ),
            "new_modules": recs[0]["new_modules"],
            "raw": [{k: v for k, v in r.items() if k not in ("outcomes", "dtypes")} for r in recs],
        }
    med = {
        v: {k: summary["variants"][v][k]["median"] for k in ("validate_s", "total_s", "import_s")}
        for v in VARIANTS
    }
    summary["ratios_ours_over_plain"] = {
        k.removesuffix("_s"): med["ours"][k] / med["plain"][k] for k in med["ours"]
    }
    over = summary["ratios_ours_over_plain"]["validate"] > TARGET_OVERHEAD
    if profile or over:
        summary["profile"] = {
            v: run_child(["--child", v, str(parquet), str(contract_path), "--profile"], root)
            for v in VARIANTS
        }
        for rec in summary["profile"].values():
            rec.pop("outcomes", None)
    return summary


def parse_check(root: Path) -> dict[str, Any]:
    return run_child(["--parse-child"], root)


def machine() -> dict[str, Any]:
    import great_expectations
    import numpy
    import pandas
    import pyarrow
    import pydantic

    cpu = sorted(
        {
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        }
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    )
    sources = {
        name: hashlib.sha256((REPO / "src/airflow_mlops_provider" / name).read_bytes()).hexdigest()
        for name in ("core/contract.py", "adapters/great_expectations.py", "spec/contract.py")
    }
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "great_expectations": great_expectations.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
        "pydantic": pydantic.VERSION,
        "commit": commit,
        "src_dirty": dirty,
        "src_sha256": sources,
    }


def print_table(s: dict[str, Any]) -> None:
    print(
        f"\n{s['rows']:,} rows, {s['columns']} columns, {s['checks']} checks; "
        f"load avg 1m {min(s['loadavg_1m']['rounds']):.2f}-{max(s['loadavg_1m']['rounds']):.2f}"
    )
    print("| variant | import s | load s | validate s | total s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for v, d in s["variants"].items():
        cells = [
            f"{d[k]['median']:.3f} ({d[k]['min']:.3f}-{d[k]['max']:.3f})"
            for k in ("import_s", "load_s", "validate_s", "total_s")
        ]
        print(f"| {v} | " + " | ".join(cells) + f" | {d['maxrss_mib']['median']:.0f} |")
    r = s["ratios_ours_over_plain"]
    print(
        f"ours/plain: validate {r['validate']:.3f}x, total {r['total']:.3f}x, "
        f"import {r['import']:.3f}x (target validate <= {TARGET_OVERHEAD}x)"
    )
    if "profile" in s:
        for v, rec in s["profile"].items():
            print(f"\n--- cProfile {v} (validate {rec['validate_s']:.2f} s under the profiler)")
            for label, sec in sorted(rec["profile_stages_s"].items(), key=lambda x: -x[1]):
                print(f"  {label:40s} {sec:7.3f} s")
            print("\n".join(rec["profile_tottime"].splitlines()[:45]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="table size (repeatable)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per variant (default 5)")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of each")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "PARQUET", "CONTRACT"))
    parser.add_argument("--parse-child", action="store_true")
    parser.add_argument("out", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, parquet, contract = args.child
        child(variant, Path(parquet), Path(contract), Path(args.out), args.profile)
        return
    if args.parse_child:
        parse_child(Path(args.out))
        return

    rows_list = args.rows or list(DEFAULT_ROWS)
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        root = Path(tmp)
        parse = parse_check(root)
        print(
            f"DAG parse via runpy(dags/pipelines.py): {len(parse['dags'])} DAGs in "
            f"{parse['seconds']:.2f} s; great_expectations imported: "
            f"{parse['great_expectations_imported']}; heavy modules added: "
            f"{parse['heavy_modules_added'] or 'none'}",
            flush=True,
        )
        sizes = [bench_rows(rows, args.runs, args.profile, root) for rows in rows_list]
    for s in sizes:
        print_table(s)
    result = {
        "benchmark": "data validation: contract gate (ours) vs plain Great Expectations 1.x",
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "bench/validate.py", *sys.argv[1:]]),
        "runs": args.runs,
        "warmup_runs": 1,
        "seed": SEED,
        "result_format": RESULT_FORMAT,
        "target": {"validate_ratio_max": TARGET_OVERHEAD, "no_gx_at_parse": True},
        "machine": machine(),
        "dag_parse": parse,
        "sizes": sizes,
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if rows_list == list(DEFAULT_ROWS) else "-r" + "-".join(map(str, rows_list))
    path = RESULTS / f"validate-{started.date().isoformat()}{suffix}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
