"""`load_pipelines(globals())`: the one public entry point used by `dags/*.py`.

Each YAML is loaded in isolation: a broken one becomes `<file>__config_error` and the others
still load. Under a task run, Airflow's parsing context names the DAG wanted and only that
pipeline's DAG is built.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from airflow.sdk import get_parsing_context

from airflow_mlops_provider.factory.builders import build_config_error, build_dags
from airflow_mlops_provider.spec.loader import (
    DEFAULTS_FILE,
    SpecError,
    load_defaults,
    load_spec,
    pipeline_files,
)
from airflow_mlops_provider.spec.models import pipeline_of_dag_id


def load_pipelines(namespace: dict[str, Any], folder: str | Path | None = None) -> list[Any]:
    """Build every pipeline's DAGs from the YAMLs beside the calling file into namespace."""
    folder = Path(folder) if folder else Path(namespace["__file__"]).resolve().parent
    project_dir = str(folder.parent)
    wanted = get_parsing_context().dag_id
    only_pipeline = pipeline_of_dag_id(wanted) if wanted else None
    dags: list[Any] = []
    try:
        defaults = load_defaults(folder)
    except SpecError as exc:
        defaults, defaults_error = (
            None,
            f"{DEFAULTS_FILE} is invalid, so no pipeline using it is built:\n{exc}",
        )
    else:
        defaults_error = None
    seen: dict[str, Path] = {}
    for path in pipeline_files(folder):
        error_id = f"{_safe_id(path.stem)}__config_error"
        try:
            if defaults_error:
                raise SpecError(str(path), []) from None
            spec = load_spec(path, defaults)
        except SpecError as exc:
            if wanted in (None, error_id):
                dags.append(build_config_error(error_id, path.name, defaults_error or str(exc)))
            continue
        if spec.pipeline in seen:
            if wanted in (None, error_id):
                message = (
                    f"{path}:1:1: pipeline: '{spec.pipeline}' is already defined in "
                    f"{seen[spec.pipeline].name}; pipeline names must be unique"
                )
                dags.append(build_config_error(error_id, path.name, message))
            continue
        seen[spec.pipeline] = path
        if only_pipeline in (None, spec.pipeline):
            dags.extend(
                build_dags(spec, project_dir, path.read_text("utf-8"), path.name, only=wanted)
            )
    for dag in dags:
        namespace[dag.dag_id] = dag
    return dags


def _safe_id(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
