"""`load_pipelines(globals())`: the one public entry point used by `dags/*.py`.

Each YAML is loaded in isolation: a broken one becomes `<file>__config_error` and the others
still load. Under a task run, Airflow's parsing context names the DAG wanted and only that
pipeline's DAG is built.
"""

from __future__ import annotations

import gc
import logging
import re
from pathlib import Path
from typing import Any

from airflow.sdk import get_parsing_context

from airflow_mlops_provider.factory.builders import build_config_error, build_dags
from airflow_mlops_provider.spec import (
    PipelineSpec,
    SpecError,
    YamlDoc,
    duplicate_names,
    load_defaults,
    load_spec,
    pipeline_of_dag_id,
    scan_folder,
)
from airflow_mlops_provider.spec.folder import DEFAULTS_FILE

log = logging.getLogger(__name__)


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
    """Every DAG of the folder's pipelines (or only the one a task run wants). Every file is
    loaded even for one wanted DAG: a duplicate name must stop both files' DAGs."""
    wanted = get_parsing_context().dag_id
    only_pipeline = pipeline_of_dag_id(wanted) if wanted else None
    scan = scan_folder(folder)
    for path, reason in scan.skipped:
        log.info("airflow-mlops: skipped %s: %s", path, reason)
    defaults, defaults_error = _defaults(folder)
    loaded = {path: _load(path, defaults, defaults_error) for path in scan.pipelines}
    clashes = duplicate_names({p: spec.pipeline for p, (spec, _, _) in loaded.items() if spec})
    dags: list[Any] = []
    error_ids: set[str] = set()
    for path, (spec, error, notes) in loaded.items():
        error = clashes.get(path, error)
        if spec is not None and path not in clashes:
            if only_pipeline not in (None, spec.pipeline):
                continue
            built, error = _build(spec, folder, path, wanted, notes)
            dags.extend(built)
        if error is not None:
            error_id = _error_id(path, error_ids)
            if wanted in (None, error_id):
                dags.append(build_config_error(error_id, path.name, error))
    return dags


def _build(
    spec: PipelineSpec, folder: Path, path: Path, wanted: str | None, notes: list[str]
) -> tuple[list, str | None]:
    """The pipeline's DAGs, or the error that stopped them: a validated spec should always
    build, but if it does not, only this file's DAGs are lost, never the folder's."""
    try:
        text = path.read_text("utf-8")
        project = str(folder.parent)
        return build_dags(spec, project, text, path.name, only=wanted, notes=notes), None
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
    path: Path, defaults: YamlDoc | None, defaults_error: str | None
) -> tuple[PipelineSpec | None, str | None, list[str]]:
    """(spec, None, warnings), or (None, the error the config-error DAG shows, [])."""
    if defaults_error:
        return None, defaults_error, []
    warnings: list = []
    try:
        spec = load_spec(path, defaults, warnings=warnings)
    except SpecError as exc:
        return None, str(exc), []
    except Exception as exc:  # a loader bug must not hide the others
        return None, f"{path}:1:1: cannot load: {type(exc).__name__}: {exc}", []
    return spec, None, [str(w) for w in warnings]


def _safe_id(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
