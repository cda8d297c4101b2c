"""DAG parse-time benchmark: our YAML factory vs the same DAGs hand-written vs dag-factory.

    .venv/bin/python bench/parse.py [N ...]        # default N = 1 50 200 1000
    .venv/bin/python bench/parse.py --anchor /tmp/main-tree 200 1000  # + another checkout
    .venv/bin/python bench/parse.py --without-dag-factory --anchor /tmp/main-tree 200
    .venv/bin/python bench/parse.py --profile 200  # cProfile of one parse (ours and floor)

For each N it builds, in a fresh temp folder, three dags folders that Airflow's DagBag parses:

- ours: `pipelines.py` (the repo's loader) + N pipeline YAMLs made from `dags/churn.yaml`
  (pipeline churn_0000, ...): 4 DAGs per pipeline (training 10 tasks, monitoring 8, health 1,
  rollback 1).
- floor: `bench/floor_dags.py`, the same 4N DAGs written in plain Python with the same operator
  classes, no YAML, no per-pipeline validation. A structural fingerprint (ids, tasks, classes,
  edges, schedules, args, docs) must equal ours, so the floor is really the same DAGs.
- dag-factory: astronomer's dag-factory 1.x loading N YAMLs (`bench/dagfactory_template.yaml`,
  1 DAG of 9 tasks each, KubernetesPodOperator retrain), from its own venv
  `bench/.venv-dagfactory` so the main venv stays clean.
- anchor (with `--anchor TREE`): "ours" from another checkout of this repository (e.g. main
  in a `git worktree`), its `src/` first on the child's PYTHONPATH, interleaved with the others
  in the same run, so a change is measured against its base on the same machine at the same
  time. Its DAGs' fingerprint is compared with ours (a refactor must build the same DAGs).

Every measurement is a fresh Python process (what a DAG processor pays per file) that times
`import airflow` (the baseline, reported apart) and `DagBag(dag_folder=...)` (the fill, the
number compared; also its process CPU time, which moves far less than wall time when other
work shares the cores), counts DAGs/tasks, asserts no import errors, and lists heavy modules in
sys.modules. One warm-up run (pycache, page cache), then the median of the timed runs, with the
variants interleaved per round so drift on a busy machine hits all three alike.

This file is also the child: `parse.py --child FOLDER OUT` (stdlib-only at module level, since
the dag-factory venv runs it too).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import hashlib
import json
import os
import platform
import re
import shutil
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
DF_VENV = BENCH / ".venv-dagfactory"
DEFAULT_NS = (1, 50, 200, 1000)
VARIANTS = ("ours", "floor", "dag-factory")
ANCHOR: Path | None = None  # --anchor: another checkout, measured as variant "anchor"
WITH_DAG_FACTORY = True  # --without-dag-factory: no dag-factory venv, variant or ratios
HEAVY = ("pandas", "mlflow", "great_expectations", "scipy", "sklearn", "boto3", "kubernetes")
# Bytecode caches for the children, outside the repo: a deployment parses with .pyc files, but
# editable src/ has none when PYTHONDONTWRITEBYTECODE is set (it is in some sandboxes), which
# would charge ours for compiling its modules on every parse. The warm-up run fills this.
PYCACHE_PREFIX = Path(tempfile.gettempdir()) / "airflow-mlops-parse-bench-pycache"
AIRFLOW_DEFAULT_IMPORT_TIMEOUT = 30.0  # [core] dagbag_import_timeout default: a file past it fails
TARGET_FLOOR_RATIO = 1.5  # ours within 1.5x of the hand-written floor
TARGET_DF_PER_DAG = 5.0  # at least 5x faster per DAG than dag-factory
# What one pipeline / YAML becomes: (DAGs, tasks) per variant.
SHAPE = {"ours": (4, 21), "floor": (4, 21), "dag-factory": (1, 9), "anchor": (4, 20)}
CALLABLES = '''"""Callables the dag-factory YAMLs name by dotted path (never run here)."""


def validate_data(**kwargs):
    return kwargs


def detect_drift(**kwargs):
    return "retrain"


def evaluate(**kwargs):
    return kwargs


def approve(**kwargs):
    return True


def canary_promote(**kwargs):
    return True


def notify(**kwargs):
    return True
'''
DAGFACTORY_LOADER = '''"""airflow DAG loader for the benchmark: dag-factory builds the YAMLs."""
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), dags_folder=str(Path(__file__).parent))
'''


# --------------------------------------------------------------------------------------------
# Child: one DagBag parse in a fresh interpreter. Stdlib-only imports at module level, because
# the dag-factory venv runs this file too.
# --------------------------------------------------------------------------------------------


def variants() -> tuple[str, ...]:
    chosen = VARIANTS if WITH_DAG_FACTORY else ("ours", "floor")
    return (*chosen, "anchor") if ANCHOR else chosen


def heavy_loaded() -> list[str]:
    """Heavy top-level packages present in sys.modules (DESIGN.md §2: none at parse time)."""
    return sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))


def child(folder: str, out: str, with_fingerprint: bool) -> None:
    """Time `import airflow` and the DagBag fill separately and write the numbers to `out`."""
    start = time.perf_counter()
    import airflow

    imported = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    heavy_before = heavy_loaded()
    gc_time = gc_timer()
    ready, ready_cpu = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=folder)
    filled, filled_cpu = time.perf_counter(), time.process_time()
    result: dict[str, Any] = {
        "import_airflow_s": imported - start,
        "import_dagbag_s": ready - imported,
        "fill_s": filled - ready,
        "fill_cpu_s": filled_cpu - ready_cpu,
        "fill_gc_s": gc_time[0],
        "fill_gc_collections": gc_time[1],
        "dags": len(bag.dags),
        "tasks": sum(len(dag.tasks) for dag in bag.dags.values()),
        "import_errors": {str(k): str(v)[-2000:] for k, v in bag.import_errors.items()},
        "heavy_before_fill": heavy_before,
        "heavy_after_fill": heavy_loaded(),
        "versions": child_versions(airflow.__version__),
        "provider": getattr(sys.modules.get("airflow_mlops_provider"), "__file__", None),
    }
    if with_fingerprint:
        result["fingerprint"] = fingerprint(bag, str(Path(folder).resolve().parent))
    Path(out).write_text(json.dumps(result), "utf-8")


def gc_timer() -> list[float]:
    """[seconds, collections] spent in the cyclic garbage collector from now on: thousands of
    live DAG objects make every full collection longer, so big N is partly GC time."""
    import gc

    totals, started = [0.0, 0], [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            totals[0] += time.perf_counter() - started[0]
            totals[1] += 1

    gc.callbacks.append(callback)
    return totals


def child_versions(airflow_version: str) -> dict[str, str]:
    from importlib import metadata

    versions = {"python": platform.python_version(), "airflow": airflow_version}
    for dist in ("dag-factory", "apache-airflow-providers-cncf-kubernetes", "pydantic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return versions


def fingerprint(bag: Any, root: str) -> list[str]:
    """One line per DAG and per task with what makes two DAG sets 'the same DAGs'. `root`,
    the variant's temp folder, is taken out of the docs (the loader's warnings name files)."""
    lines = []
    for dag_id in sorted(bag.dags):
        dag = bag.dags[dag_id]
        doc = hashlib.sha256((dag.doc_md or "").replace(root, "<root>").encode()).hexdigest()[:12]
        lines.append(
            f"{dag_id} timetable={dag.timetable!r} start={dag.start_date} catchup={dag.catchup} "
            f"max_active_runs={dag.max_active_runs} tags={sorted(dag.tags)} "
            f"description={dag.description!r} params={sorted(dag.params)} "
            f"default_args={sorted(dag.default_args.items())} doc={doc}"
        )
        for task in sorted(dag.tasks, key=lambda t: t.task_id):
            lines.append(
                f"  {task.task_id} {type(task).__module__}.{type(task).__name__} "
                f"trigger={task.trigger_rule} owner={task.owner} retries={task.retries} "
                f"retry_delay={task.retry_delay} outlets={task.outlets!r} "
                f"-> {sorted(task.downstream_task_ids)}"
            )
    return [re.sub(r" at 0x[0-9a-f]+", "", line) for line in lines]  # no object addresses


# --------------------------------------------------------------------------------------------
# Parent: build the dags folders, run the children, summarise.
# --------------------------------------------------------------------------------------------


def pipeline_name(index: int) -> str:
    return f"churn_{index:04d}"


def make_ours(root: Path, n: int, tree: Path = REPO) -> Path:
    """The repo's loader plus N copies of the example YAML, each with its own pipeline name."""
    dags = root / "dags"
    dags.mkdir(parents=True)
    shutil.copy(tree / "dags" / "pipelines.py", dags / "pipelines.py")
    text = (tree / "dags" / "churn.yaml").read_text("utf-8")
    for index in range(n):
        name = pipeline_name(index)
        renamed, count = re.subn(r"(?m)^pipeline: churn$", f"pipeline: {name}", text)
        assert count == 1, "dags/churn.yaml no longer has a 'pipeline: churn' line"
        (dags / f"{name}.yaml").write_text(renamed, "utf-8")
    return dags


def make_anchor(root: Path, n: int) -> Path:
    """make_ours from the --anchor checkout."""
    assert ANCHOR is not None
    return make_ours(root, n, ANCHOR)


def make_floor(root: Path, n: int) -> Path:
    """bench/floor_dags.py with its generated block filled in: N, the project dir and the
    example spec as a Python literal (read here, once, so the floor itself reads no YAML)."""
    from airflow_mlops_provider.spec import load_spec

    example = REPO / "dags" / "churn.yaml"
    found: list = []
    spec = load_spec(example, warnings=found).model_dump(exclude_unset=True)
    warnings = [str(warning).replace(str(example), "<file>") for warning in found]
    block = (
        "# --- generated by bench/parse.py: begin ---\n"
        f"PIPELINES = {n}\n"
        f"PROJECT_DIR = {str(root.resolve())!r}\n"
        f"SPEC: dict[str, Any] = {spec!r}\n"
        f"YAML_TEXT = {example.read_text('utf-8')!r}\n"
        f"WARNINGS: list[str] = {warnings!r}\n"
        "# --- generated by bench/parse.py: end ---\n"
    )
    template = (BENCH / "floor_dags.py").read_text("utf-8")
    source, count = re.subn(
        r"(?s)# --- generated by bench/parse.py: begin ---\n.*?"
        r"# --- generated by bench/parse.py: end ---\n",
        lambda _: block,
        template,
    )
    assert count == 1, "bench/floor_dags.py lost its generated block markers"
    dags = root / "dags"
    dags.mkdir(parents=True)
    (dags / "floor_dags.py").write_text(source, "utf-8")
    return dags


def make_dagfactory(root: Path, n: int) -> Path:
    """A dag-factory loader plus N YAMLs; callables live in include/ (on PYTHONPATH)."""
    dags = root / "dags"
    dags.mkdir(parents=True)
    (dags / "dagfactory_loader.py").write_text(DAGFACTORY_LOADER, "utf-8")
    template = (BENCH / "dagfactory_template.yaml").read_text("utf-8")
    for index in range(n):
        name = pipeline_name(index)
        (dags / f"{name}.yaml").write_text(template.replace("__NAME__", name), "utf-8")
    include = root / "include"
    include.mkdir()
    (include / "mlops_bench_callables.py").write_text(CALLABLES, "utf-8")
    return dags


def ensure_dagfactory_venv() -> Path:
    """bench/.venv-dagfactory with dag-factory 1.x and the main venv's Airflow and provider
    versions (so only the factory differs); reused when it already has dag-factory."""
    python = DF_VENV / "bin" / "python"
    check = [str(python), "-c", "import dagfactory"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    from importlib import metadata

    pins = [
        f"{dist}=={metadata.version(dist)}"
        for dist in (
            "apache-airflow",
            "apache-airflow-providers-standard",
            "apache-airflow-providers-cncf-kubernetes",
        )
    ]
    print(f"creating {DF_VENV} (dag-factory>=1,<2, {', '.join(pins)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(DF_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "dag-factory>=1,<2", *pins], check=True)
    return python


def child_env(root: Path, dags: Path, src: Path | None = None) -> dict[str, str]:
    """A hermetic Airflow environment: own AIRFLOW_HOME, no examples, no telemetry, bytecode
    caching on, and an import timeout high enough that a slow N is measured, not cut off."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIRFLOW") and k != "PYTHONDONTWRITEBYTECODE"
    }
    home = root / "airflow-home"
    home.mkdir(exist_ok=True)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="3600",
        AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY="False",
        DO_NOT_TRACK="True",
        SCARF_NO_ANALYTICS="True",
        PYTHONPATH=os.pathsep.join([str(root / "include"), *([str(src)] if src else [])]),
        PYTHONPYCACHEPREFIX=str(PYCACHE_PREFIX),
    )
    return env


def run_child(
    python: Path, root: Path, dags: Path, with_fingerprint: bool, src: Path | None = None
) -> dict[str, Any]:
    """One parse in a fresh process; wall time includes interpreter start-up and exit.
    `src`: a package folder put first on the child's path (the anchor's)."""
    out = root / "result.json"
    cmd = [str(python), str(Path(__file__).resolve()), "--child", str(dags), str(out)]
    if with_fingerprint:
        cmd.append("--fingerprint")
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=child_env(root, dags, src), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"child failed ({' '.join(cmd)}):\n{proc.stderr[-4000:]}")
    result = json.loads(out.read_text("utf-8"))
    out.unlink()
    result["wall_s"] = wall
    return result


def check_run(variant: str, n: int, run: dict[str, Any]) -> None:
    """No import errors and exactly the expected DAGs and tasks (dag-factory logs and skips a
    YAML it cannot build, so a count is the only way to notice)."""
    assert not run["import_errors"], f"{variant} N={n}: import errors {run['import_errors']}"
    dags, tasks = SHAPE[variant]
    expected = (dags * n, tasks * n)
    assert (run["dags"], run["tasks"]) == expected, (
        f"{variant} N={n}: got {run['dags']} DAGs / {run['tasks']} tasks, expected {expected}"
    )


def bench_n(n: int, runs: int, df_python: Path | None) -> dict[str, Any]:
    """Warm-up (with fingerprints) then `runs` interleaved rounds of the variants."""
    main_python = Path(sys.executable)
    pythons = {"ours": main_python, "floor": main_python, "dag-factory": df_python}
    makers = {"ours": make_ours, "floor": make_floor, "dag-factory": make_dagfactory}
    pythons["anchor"], makers["anchor"] = main_python, make_anchor
    srcs = {"anchor": ANCHOR / "src" if ANCHOR else None}
    active = variants()
    with tempfile.TemporaryDirectory(prefix=f"parse-bench-{n}-") as tmp:
        roots = {v: Path(tmp) / v.replace("-", "") for v in active}
        folders = {v: makers[v](roots[v], n) for v in active}
        warm = {v: run_child(pythons[v], roots[v], folders[v], True, srcs.get(v)) for v in active}
        for variant, run in warm.items():
            check_run(variant, n, run)
        prints = {v: warm[v].pop("fingerprint") for v in active}
        same = same_dags(n, prints["ours"], prints["floor"], "floor")
        anchor_same = same_dags(n, prints["ours"], prints["anchor"], "anchor") if ANCHOR else None
        timed: dict[str, list[dict[str, Any]]] = {v: [] for v in active}
        for round_no in range(runs):
            for variant in active:
                run = run_child(
                    pythons[variant], roots[variant], folders[variant], False, srcs.get(variant)
                )
                check_run(variant, n, run)
                timed[variant].append(run)
            fills = ", ".join(
                f"{v} {timed[v][-1]['fill_s']:.2f}s (cpu {timed[v][-1]['fill_cpu_s']:.2f}s)"
                for v in active
            )
            print(f"  N={n} round {round_no + 1}/{runs}: {fills}", flush=True)
    return {
        "n": n,
        "runs": runs,
        "floor_matches_ours": same,
        "anchor_matches_ours": anchor_same,
        "warmup": warm,
        "timed": timed,
    }


def same_dags(n: int, ours: list[str], other: list[str], name: str) -> bool:
    """True when the other variant built exactly our DAGs; otherwise show where they differ."""
    if ours == other:
        return True
    diff = list(difflib.unified_diff(ours, other, "ours", name, n=0, lineterm=""))
    print(f"  !! N={n}: the {name}'s DAGs differ from ours ({len(diff)} diff lines):")
    for line in diff[:12]:
        print(f"     {line[:300]}")
    return False


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Medians, per-DAG/per-pipeline costs and the ratios the issue's targets are about."""
    n = result["n"]
    summary: dict[str, Any] = {}
    for variant, runs in result["timed"].items():
        fill = stats([r["fill_s"] for r in runs])
        dags, tasks = runs[0]["dags"], runs[0]["tasks"]
        summary[variant] = {
            "fill_s": fill,
            "fill_cpu_s": stats([r["fill_cpu_s"] for r in runs]),
            "import_airflow_s": stats([r["import_airflow_s"] for r in runs]),
            "fill_gc_s": stats([r["fill_gc_s"] for r in runs]),
            "wall_s": stats([r["wall_s"] for r in runs]),
            "dags": dags,
            "tasks": tasks,
            "per_dag_ms": 1000 * fill["median"] / dags,
            "per_task_ms": 1000 * fill["median"] / tasks,
            "per_pipeline_ms": 1000 * fill["median"] / n,
            "heavy_after_fill": runs[0]["heavy_after_fill"],
            "heavy_imported_by_parse": sorted(
                set(runs[0]["heavy_after_fill"]) - set(runs[0]["heavy_before_fill"])
            ),
            "over_default_timeout": max(r["fill_s"] for r in runs) > AIRFLOW_DEFAULT_IMPORT_TIMEOUT,
        }
    summary["loadavg_1m"] = result.get("loadavg_1m")
    ours, floor = summary["ours"], summary["floor"]
    summary["ratios"] = {"ours_over_floor": ours["fill_s"]["median"] / floor["fill_s"]["median"]}
    if "dag-factory" in summary:
        df = summary["dag-factory"]
        summary["ratios"] |= {
            "df_over_ours_per_dag": df["per_dag_ms"] / ours["per_dag_ms"],
            "df_over_ours_per_pipeline": df["per_pipeline_ms"] / ours["per_pipeline_ms"],
            "df_over_ours_per_task": df["per_task_ms"] / ours["per_task_ms"],
        }
    if "anchor" in summary:
        anchor = summary["anchor"]
        summary["ratios"]["ours_over_anchor"] = (
            ours["fill_s"]["median"] / anchor["fill_s"]["median"]
        )
        summary["ratios"]["ours_over_anchor_cpu"] = (
            ours["fill_cpu_s"]["median"] / anchor["fill_cpu_s"]["median"]
        )
    return summary


def marginal(summaries: dict[int, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Cost of one more DAG/pipeline between consecutive N (the fixed import cost cancels)."""
    ns = sorted(summaries)
    out: dict[str, dict[str, float]] = {}
    for low, high in zip(ns, ns[1:], strict=False):
        row: dict[str, float] = {}
        for variant in variants():
            a, b = summaries[low][variant], summaries[high][variant]
            delta = b["fill_s"]["median"] - a["fill_s"]["median"]
            row[f"{variant}_per_dag_ms"] = 1000 * delta / (b["dags"] - a["dags"])
            row[f"{variant}_per_pipeline_ms"] = 1000 * delta / (high - low)
        row["ours_over_floor"] = row["ours_per_dag_ms"] / row["floor_per_dag_ms"]
        if WITH_DAG_FACTORY:
            row["df_over_ours_per_dag"] = row["dag-factory_per_dag_ms"] / row["ours_per_dag_ms"]
            row["df_over_ours_per_pipeline"] = (
                row["dag-factory_per_pipeline_ms"] / row["ours_per_pipeline_ms"]
            )
        if ANCHOR:
            row["ours_over_anchor"] = row["ours_per_dag_ms"] / row["anchor_per_dag_ms"]
        out[f"{low}->{high}"] = row
    return out


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_tables(summaries: dict[int, dict[str, Any]], runs: dict[int, int]) -> None:
    """A markdown table per N plus the ratio lines, ready to paste into BENCHMARKS.md."""
    for n, s in sorted(summaries.items()):
        baseline = statistics.median(s[v]["import_airflow_s"]["median"] for v in variants())
        load = s["loadavg_1m"] or {"before": float("nan"), "after": float("nan")}
        print(
            f"\n### N = {n} pipeline YAML(s) — median of {runs[n]} runs after 1 warm-up; "
            f"`import airflow` ≈ {baseline:.2f} s per process, not included; "
            f"1-min load {load['before']:.2f} → {load['after']:.2f}\n"
        )
        print(
            "| variant | DAGs | tasks | DagBag fill s, median (min–max) "
            "| per DAG ms | per pipeline ms | heavy modules imported by the parse |"
        )
        print("|---|---:|---:|---|---:|---:|---|")
        for variant in variants():
            v = s[variant]
            f = v["fill_s"]
            heavy = ", ".join(v["heavy_imported_by_parse"]) or "none"
            flag = " **(> 30 s default timeout)**" if v["over_default_timeout"] else ""
            print(
                f"| {variant} | {v['dags']} | {v['tasks']} | {f['median']:.3f} "
                f"({f['min']:.3f}–{f['max']:.3f}){flag} | {v['per_dag_ms']:.2f} "
                f"| {v['per_pipeline_ms']:.2f} | {heavy} |"
            )
        r = s["ratios"]
        print(
            f"\nours/floor = {r['ours_over_floor']:.2f}x (target ≤ {TARGET_FLOOR_RATIO}x: "
            f"{verdict(r['ours_over_floor'] <= TARGET_FLOOR_RATIO)})"
        )
        if "df_over_ours_per_dag" in r:
            print(
                f"dag-factory/ours per DAG = {r['df_over_ours_per_dag']:.2f}x (target ≥ "
                f"{TARGET_DF_PER_DAG}x: {verdict(r['df_over_ours_per_dag'] >= TARGET_DF_PER_DAG)}"
                f"), per pipeline = {r['df_over_ours_per_pipeline']:.2f}x, "
                f"per task = {r['df_over_ours_per_task']:.2f}x"
            )
        if "ours_over_anchor" in r:
            cpu = {v: s[v]["fill_cpu_s"]["median"] for v in ("ours", "anchor")}
            print(
                f"ours/anchor = {r['ours_over_anchor']:.3f}x wall, "
                f"{r['ours_over_anchor_cpu']:.3f}x CPU (ours {cpu['ours']:.3f} s, anchor "
                f"{cpu['anchor']:.3f} s of CPU per fill; this checkout vs {ANCHOR})"
            )
    margins = marginal(summaries)
    if margins and WITH_DAG_FACTORY:
        print("\n### Marginal cost between consecutive N (fixed import costs cancel)\n")
        print(
            "| N step | ours ms/DAG | floor ms/DAG | dag-factory ms/DAG | ours/floor "
            "| dag-factory/ours per DAG | per pipeline |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for step, m in margins.items():
            print(
                f"| {step} | {m['ours_per_dag_ms']:.2f} | {m['floor_per_dag_ms']:.2f} "
                f"| {m['dag-factory_per_dag_ms']:.2f} | {m['ours_over_floor']:.2f}x "
                f"| {m['df_over_ours_per_dag']:.2f}x | {m['df_over_ours_per_pipeline']:.2f}x |"
            )
    if margins and ANCHOR:
        print("\n| N step | ours ms/DAG | anchor ms/DAG | ours/anchor |\n|---|---:|---:|---:|")
        for step, m in margins.items():
            print(
                f"| {step} | {m['ours_per_dag_ms']:.2f} | {m['anchor_per_dag_ms']:.2f} "
                f"| {m['ours_over_anchor']:.3f}x |"
            )


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def git_state(tree: Path = REPO) -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tree, capture_output=True, text=True
        ).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def write_json(summaries: dict[int, dict[str, Any]], raw: list[dict[str, Any]]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    ns = sorted(summaries)
    # A quick run (other N) must not overwrite the day's full run.
    suffix = "" if ns == sorted(DEFAULT_NS) else "-n" + "-".join(map(str, ns))
    path = RESULTS / f"parse-{dt.date.today().isoformat()}{suffix}.json"
    versions = {v: raw[0]["warmup"][v]["versions"] for v in variants()}
    payload = {
        "command": " ".join(["python", "bench/parse.py", *sys.argv[1:]]),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions,
        "git": git_state(),
        "targets": {
            "ours_over_floor_max": TARGET_FLOOR_RATIO,
            "df_over_ours_per_dag_min": TARGET_DF_PER_DAG,
            "airflow_default_import_timeout_s": AIRFLOW_DEFAULT_IMPORT_TIMEOUT,
        },
        "summary": {str(n): s for n, s in sorted(summaries.items())},
        "marginal": marginal(summaries),
        "raw": raw,
    }
    if ANCHOR:
        payload["anchor"] = {"tree": str(ANCHOR), "git": git_state(ANCHOR)}
    path.write_text(json.dumps(payload, indent=2), "utf-8")
    return path


def profile(n: int, top: int = 25) -> None:
    """cProfile one parse of ours and of the floor at N pipelines; print the top functions."""
    import pstats

    for variant, maker in (("ours", make_ours), ("floor", make_floor)):
        with tempfile.TemporaryDirectory(prefix=f"parse-profile-{n}-") as tmp:
            root = Path(tmp)
            dags = maker(root, n)
            prof, out = root / "parse.prof", root / "result.json"
            cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), str(Path(__file__))]
            subprocess.run([*cmd, "--child", str(dags), str(out)], env=child_env(root, dags))
            result = json.loads(out.read_text("utf-8"))
            print(f"\n===== {variant}, N={n}: fill {result['fill_s']:.2f}s under cProfile =====")
            for order in ("cumulative", "tottime"):
                print(f"--- top {top} by {order} ---")
                pstats.Stats(str(prof)).strip_dirs().sort_stats(order).print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ns", nargs="*", type=int, help="pipeline counts (default 1 50 200 1000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per variant and N")
    parser.add_argument("--runs-large", type=int, help="timed runs for N >= 1000 (default: --runs)")
    parser.add_argument("--profile", type=int, metavar="N", help="profile ours/floor at N")
    parser.add_argument("--child", nargs=2, metavar=("DAGS", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--fingerprint", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--anchor",
        type=Path,
        help="another checkout of this repo, measured interleaved as 'anchor'",
    )
    parser.add_argument(
        "--without-dag-factory", action="store_true", help="skip the dag-factory variant"
    )
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, args.fingerprint)
        return 0
    if args.profile:
        profile(args.profile)
        return 0
    global ANCHOR, WITH_DAG_FACTORY
    ANCHOR = args.anchor.resolve() if args.anchor else None
    WITH_DAG_FACTORY = not args.without_dag_factory
    df_python = ensure_dagfactory_venv() if WITH_DAG_FACTORY else None
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: 1-min load is {load:.2f} on {os.cpu_count()} cores; expect noisy numbers")
    ns = args.ns or list(DEFAULT_NS)
    runs = {n: args.runs_large if n >= 1000 and args.runs_large else args.runs for n in ns}
    raw, summaries = [], {}
    for n in ns:
        print(f"N={n}: warm-up + {runs[n]} rounds x {len(variants())} variants", flush=True)
        load_before = os.getloadavg()[0]
        result = bench_n(n, runs[n], df_python)
        # Other work on a 2-core machine skews timings: keep the 1-minute load with the numbers.
        result["loadavg_1m"] = {"before": load_before, "after": os.getloadavg()[0]}
        raw.append(result)
        summaries[n] = summarise(result)
    print_tables(summaries, runs)
    path = write_json(summaries, raw)
    print(f"\nraw numbers: {path.relative_to(REPO)}")
    problems = [
        f"N={r['n']}: the {name}'s DAGs differ from ours"
        for r in raw
        for name in ("floor", "anchor")
        if r[f"{name}_matches_ours"] is False
    ]
    if ANCHOR:
        where = {r["warmup"]["anchor"]["provider"] for r in raw}
        if not all(str(ANCHOR) in str(w) for w in where):
            problems.append(f"the anchor imported the provider from {where}, not {ANCHOR}")
    for n, s in summaries.items():
        for variant in ("ours", "floor"):
            if heavy := s[variant]["heavy_imported_by_parse"]:
                problems.append(f"N={n}: {variant} parse imported {', '.join(heavy)}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
