"""The step image's Python environment runs a step, without a Docker engine.

    .venv/bin/python tests/image/check_step_image.py [--work DIR] [--reuse]

Not a pytest test (it downloads the trainer's wheels, a few minutes): run it when
include/trainer/Dockerfile, its requirements or the constraints change. It follows the
Dockerfile, not a copy of it: the default target's COPY lines are replayed into a folder that
stands for the image's root, and its `pip install` RUN lines run as written (paths mapped into
that folder) in a fresh Python 3.11 venv standing for the image's interpreter. Then, as the
platform runs a step pod:

- a request written by this worker's code (`services.steps.request`, as the task writes it);
- `airflow-mlops run-step validation --request URI` from the image env's console script, as
  uid/gid 1000 (the image's USER), with a read-only root filesystem (a private mount namespace
  remounts / read-only), HOME and TMPDIR on a tmpfs standing for the /scratch emptyDir, the
  project folder read-only, and only the storage folder (S3 in production) writable;
- the stored outcome must be the step's value; a request claiming another minor release must be
  refused as the step's outcome. Sizes of the installed environment are printed.

Needs root here (unshare, mount, setpriv), as the sessions on this machine have.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))  # the worker's code is this checkout's
DOCKERFILE = ROOT / "include" / "trainer" / "Dockerfile"
UID = 1000  # the Dockerfile's USER
# Debian bookworm's 3.11 (the image's base is bookworm too), readable by uid 1000, unlike pyenv's
PYTHON = "/usr/bin/python3.11"


def instructions(dockerfile: Path) -> list[tuple[str, str, str]]:
    """(stage, keyword, arguments) per instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", "\n".join(
        line for line in dockerfile.read_text().splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    found, stage = [], ""
    for number, line in enumerate(text.splitlines()):
        keyword, _, rest = line.strip().partition(" ")
        if keyword.upper() == "FROM":  # an unnamed stage is named by its position
            stage = rest.split(" AS ")[-1].strip() if " AS " in rest else f"stage-{number}"
        if keyword:
            found.append((stage, keyword.upper(), " ".join(rest.split())))
    return found


def target_chain(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The default (last) target's instructions, with those of the stages it is built FROM."""
    froms = {stage: rest.split(" AS ")[0].strip() for stage, kw, rest in found if kw == "FROM"}
    chain, stage = [], found[-1][0]
    while stage in froms:
        chain.insert(0, stage)
        stage = froms[stage]
    return [item for item in found if item[0] in chain]


def replay(chain: list[tuple[str, str, str]], image: Path, venv: Path, log: Path) -> list[str]:
    """COPY into `image`, run the pip RUN lines in `venv`; the RUN lines skipped (users,
    links: what the mount namespace and uid stand for)."""
    skipped, env = [], {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    for stage, keyword, rest in chain:
        if keyword == "COPY":
            *sources, target = [a for a in shlex.split(rest) if not a.startswith("--")]
            for source in sources:
                _copy(ROOT / source, image / target.lstrip("/"), target.endswith("/"))
        elif keyword == "RUN" and "pip install" in rest:
            command = re.sub(r"(?<![\w.])/(app|opt)/", lambda m: f"{image}/{m.group(1)}/", rest)
            started = time.monotonic()
            with log.open("a") as out:
                out.write(f"\n$ {command}\n")
                out.flush()
                subprocess.run(["bash", "-euo", "pipefail", "-c", command], check=True,
                               env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
            print(f"[{stage}] pip RUN done in {time.monotonic() - started:.0f} s")
            print(f"  site-packages now {_size(venv)} MiB")
        elif keyword == "RUN":
            skipped.append(f"[{stage}] {rest[:70]}")
    return skipped


def _copy(source: Path, target: Path, into: bool) -> None:
    destination = target / source.name if into or target.is_dir() else target
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
    else:
        shutil.copy2(source, destination)


def _size(venv: Path) -> int:
    lib = next((venv / "lib").glob("python3*/site-packages"))
    total = sum(f.stat().st_size for f in lib.rglob("*") if f.is_file() and not f.is_symlink())
    return total // 2**20


def write_request(project: Path, store: Path, version: str | None = None) -> tuple[str, str]:
    """A validation request as the task writes it (this worker's code), over a small batch in
    the read-only project folder; (request uri, result uri)."""
    import pandas as pd

    from airflow_mlops_provider.services import steps
    from airflow_mlops_provider.services.config import PipelineConfig
    from airflow_mlops_provider.spec import ContractSpec, DataSpec

    rows = 200
    frame = pd.DataFrame({
        "id": [f"c{i}" for i in range(rows)],
        "t": pd.date_range("2026-11-01", periods=rows, freq="h"),
        "x": [float(i % 10) for i in range(rows)],
        "y": [i % 2 for i in range(rows)],
    })  # fmt: skip
    (project / "lake").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(project / "lake" / "part-0.parquet", index=False)
    data = DataSpec.model_validate({
        "source": "lake", "target": "y", "features": {"numeric": ["x"]},
        "split": {"time_column": "t", "holdout_fraction": 0.25},
    })  # fmt: skip
    contract = ContractSpec.model_validate({
        "min_rows": 100,
        "columns": {"id": {"type": "str", "unique": True}, "t": {"type": "datetime"},
                    "x": {"type": "float", "min": 0, "max": 10}, "y": {"type": "int"}},
    })  # fmt: skip
    config = PipelineConfig(pipeline="churn", project_dir=str(project))
    config = config.model_copy(update={"storage": config.storage.model_copy(
        update={"root": str(store)})})  # fmt: skip
    name = "skewed" if version else "request"
    request_uri, result_uri = str(store / f"{name}.json"), str(store / f"{name}-result.json")
    document = steps.request(
        "validation",
        config=config.model_dump(mode="json"),
        task={"dag_id": "churn__training", "run_id": "manual__1", "task_id": "validate_data"},
        inputs={"purpose": "training", "data": data.model_dump(mode="json"),
                "contract": contract.model_dump(mode="json"), "now": None,
                "source": str(project / "lake")},
        result=result_uri,
    )  # fmt: skip
    if version:
        document = json.dumps({**json.loads(document), "provider_version": version})
    Path(request_uri).write_text(document)
    return request_uri, result_uri


def run_in_pod_like_sandbox(venv: Path, project: Path, store: Path, scratch: Path,
                            request_uri: str) -> subprocess.CompletedProcess:  # fmt: skip
    """`airflow-mlops run-step` as uid 1000 with / read-only, scratch a tmpfs, store writable,
    and `import airflow` failing (run-step must not need Airflow, only the package does)."""
    blocker = project.parent / "no-airflow"
    (blocker / "airflow").mkdir(parents=True, exist_ok=True)
    (blocker / "airflow" / "__init__.py").write_text(
        'raise ImportError("run-step imported Airflow")'
    )
    inner = (
        f"mount --bind {store} {store} && mount -t tmpfs -o size=1g,mode=1777 tmpfs {scratch} "
        f"&& mount --rbind / / && mount -o remount,bind,ro / && cd {project} && "
        f"exec setpriv --reuid={UID} --regid={UID} --clear-groups env -i "
        f"PATH={venv / 'bin'}:/usr/bin:/bin HOME={scratch} TMPDIR={scratch} "
        f"PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH={blocker} "
        f"airflow-mlops run-step validation --request {request_uri}"
    )
    return subprocess.run(["unshare", "--mount", "sh", "-c", inner],
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, help="folder to keep (default: a temp folder)")
    parser.add_argument("--reuse", action="store_true", help="reuse the venv under --work")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="step-image-"))
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)
    venv, image, log = work / "venv", work / "image", work / "pip.log"
    if not (args.reuse and (venv / "bin" / "airflow-mlops").exists()):
        shutil.rmtree(venv, ignore_errors=True)
        shutil.rmtree(image, ignore_errors=True)
        subprocess.run([PYTHON, "-m", "venv", str(venv)], check=True)
        started = time.monotonic()
        skipped = replay(target_chain(instructions(DOCKERFILE)), image, venv, log)
        print(f"environment built in {time.monotonic() - started:.0f} s (pip log: {log})")
        print("RUN lines not replayed (the sandbox stands for them):", *skipped, sep="\n  ")
    script = venv / "bin" / "airflow-mlops"
    assert script.exists(), f"the image env has no {script.name} console script"
    project, store, scratch = work / "project", work / "store", work / "scratch"
    for folder in (project, store, scratch):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o755)
    os.chown(store, UID, UID)
    checks = {}
    for version, expect in ((None, "value"), ("9.9.0", "refused")):
        request_uri, result_uri = write_request(project, store, version)
        done = run_in_pod_like_sandbox(venv, project, store, scratch, request_uri)
        print(f"\n--- run-step ({expect}): exit {done.returncode}\n{done.stdout}{done.stderr}")
        outcome = json.loads(Path(result_uri).read_text()) if Path(result_uri).exists() else {}
        if expect == "value":
            value = outcome.get("value") or {}
            checks["runs validation in the image env"] = done.returncode == 0 and bool(
                value.get("snapshot_id") or value.get("manifest"))  # fmt: skip
            lines = len((done.stdout + done.stderr).splitlines())
            checks[f"the pod log is one screen ({lines} lines)"] = lines <= 20
        else:
            error = outcome.get("error") or {}
            checks["refuses another minor release as the outcome"] = (
                done.returncode == 0 and error.get("kind") == "MlopsConfigError"
                and "9.9.0" in error.get("message", ""))  # fmt: skip
    print("\nsite-packages:", _size(venv), "MiB")
    for name, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}: {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
