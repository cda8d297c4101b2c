"""`load_pipelines(globals())`: the one public entry point used by `dags/*.py`.

Each YAML is loaded in isolation: a broken one becomes `<file>__config_error` and the others
still load. Under a task run, Airflow's parsing context names the DAG wanted and only that
pipeline's DAG is built.
"""

from __future__ import annotations

import gc
import re
from pathlib import Path
from typing import Any

from airflow.sdk import get_parsing_context

from airflow_mlops_provider.factory.builders import build_config_error, build_dags
from airflow_mlops_provider.spec import (
    PipelineSpec,
    SpecError,
    load_defaults,
    load_spec,
    pipeline_files,
    pipeline_of_dag_id,
)
from airflow_mlops_provider.spec.loader import DEFAULTS_FILE, YamlDoc


def load_pipelines(namespace: dict[str, Any], folder: str | Path | None = None) -> list[Any]:
    """Build every pipeline's DAGs from the YAMLs beside the calling file into namespace.

    The cyclic garbage collector is paused while building: each YAML's burst of small objects
    would otherwise trigger collections that rescan every DAG built so far (measured: ~1 ms of
    ~5.5 ms per pipeline at 1000 pipelines, bench/BENCHMARKS.md). Nothing built here is garbage.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        dags = _build_all(Path(folder) if folder else Path(namespace["__file__"]).resolve().parent)
    finally:
        if was_enabled:
            gc.enable()
    for dag in dags:
        namespace[dag.dag_id] = dag
    return dags


def _build_all(folder: Path) -> list[Any]:
    """Every DAG of the folder's pipelines (or only the one a task run wants)."""
    wanted = get_parsing_context().dag_id
    only_pipeline = pipeline_of_dag_id(wanted) if wanted else None
    defaults, defaults_error = _defaults(folder)
    seen: dict[str, Path] = {}
    dags: list[Any] = []
    error_ids: set[str] = set()
    for path in pipeline_files(folder):
        spec, error = _load(path, defaults, defaults_error, seen)
        if spec is not None:
            seen[spec.pipeline] = path
            if only_pipeline not in (None, spec.pipeline):
                continue
            built, error = _build(spec, folder, path, wanted)
            dags.extend(built)
        if error is not None:
            error_id = _error_id(path, error_ids)
            if wanted in (None, error_id):
                dags.append(build_config_error(error_id, path.name, error))
    return dags


def _build(
    spec: PipelineSpec, folder: Path, path: Path, wanted: str | None
) -> tuple[list, str | None]:
    """The pipeline's DAGs, or the error that stopped them: a validated spec should always
    build, but if it does not, only this file's DAGs are lost, never the folder's."""
    try:
        text = path.read_text("utf-8")
        return build_dags(spec, str(folder.parent), text, path.name, only=wanted), None
    except Exception as exc:  # isolation is the point
        return [], f"{path}:1:1: building the DAGs failed: {type(exc).__name__}: {exc}"


def _error_id(path: Path, taken: set[str]) -> str:
    """`<file>__config_error`, unique even when two names sanitise alike (`a-b`, `a_b`)."""
    import hashlib

    stem = _safe_id(path.stem)[:200]
    error_id = f"{stem}__config_error"
    if error_id in taken:
        digest = hashlib.sha256(path.name.encode()).hexdigest()[:8]
        error_id = f"{stem}_{digest}__config_error"
    taken.add(error_id)
    return error_id


def _defaults(folder: Path) -> tuple[YamlDoc | None, str | None]:
    try:
        return load_defaults(folder), None
    except SpecError as exc:
        return None, f"{DEFAULTS_FILE} is invalid, so no pipeline using it is built:\n{exc}"


def _load(
    path: Path, defaults: YamlDoc | None, defaults_error: str | None, seen: dict[str, Path]
) -> tuple[PipelineSpec | None, str | None]:
    """(spec, None), or (None, the error the config-error DAG shows)."""
    if defaults_error:
        return None, defaults_error
    try:
        spec = load_spec(path, defaults)
    except SpecError as exc:
        return None, str(exc)
    except Exception as exc:  # a loader bug must not hide the others
        return None, f"{path}:1:1: cannot load: {type(exc).__name__}: {exc}"

    if spec.pipeline in seen:
        return None, (
            f"{path}:1:1: pipeline: '{spec.pipeline}' is already defined in "
            f"{seen[spec.pipeline].name}; pipeline names must be unique"
        )
    return spec, None


def _safe_id(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
