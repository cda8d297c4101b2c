"""`airflow-mlops`: validate pipeline YAMLs, check data, compare batches for drift, run the demo
and the Airflow UI on it.

`validate` needs no Airflow and exits 1 on any error, so it fits CI and pre-commit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops_provider.spec.models import PipelineSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow-mlops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check pipeline YAMLs (files or dags folders)")
    validate.add_argument("paths", nargs="+", type=Path)
    sub.add_parser("schema", help="print the pipeline JSON Schema (for editor autocomplete)")
    check = sub.add_parser("check-data", help="run a pipeline's data gate on one batch")
    check.add_argument("pipeline", type=Path)
    check.add_argument("data_uri", help="file or folder: path, file:// or s3://")
    check.add_argument("--report", type=Path, help="also write the HTML report here")
    drift = sub.add_parser("drift", help="compare two batches with the drift engine")
    drift.add_argument(
        "--reference", required=True, help="reference batch (file or folder) or profile .json"
    )
    drift.add_argument("--current", required=True, help="current batch (file or folder)")
    drift.add_argument("--pipeline", type=Path, help="take features and thresholds from here")
    drift.add_argument("--report", type=Path, help="also write the HTML report here")
    render = sub.add_parser("render-pod", help="print the training pod a pipeline would create")
    render.add_argument("pipeline", type=Path)
    demo = sub.add_parser("demo", help="run the continuous-training loop on the embedded default")
    demo.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="folder holding dags/ and include/ (default: current folder)",
    )
    ui = sub.add_parser("ui", help="the Airflow UI (airflow standalone) on the demo's state")
    ui.add_argument("--project", type=Path, default=Path.cwd(), help="folder holding dags/")
    ui.add_argument("--port", type=int, help="port to serve on (default 8080, else a free one)")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return validate_paths(args.paths)
    if args.command == "schema":
        from airflow_mlops_provider.spec.models import PipelineSpec

        print(json.dumps(PipelineSpec.model_json_schema(), indent=2))
        return 0
    if args.command == "check-data":
        return check_data(args.pipeline, args.data_uri, args.report)
    if args.command == "drift":
        return drift_cli(args.reference, args.current, args.pipeline, args.report)
    if args.command == "render-pod":
        return render_pod(args.pipeline)
    if args.command == "ui":
        from airflow_mlops_provider.ui_server import run_ui

        return run_ui(args.project.resolve(), args.port)
    from airflow_mlops_provider.demo import run_demo

    return run_demo(args.project.resolve())


def validate_paths(paths: list[Path]) -> int:
    """Validate each file (a folder means its pipeline YAMLs, with its defaults.yaml)."""
    from airflow_mlops_provider.spec.loader import SpecError, load_defaults, load_spec

    failures, checked, names = 0, 0, {}
    for folder, files in _group(paths):
        try:
            defaults = load_defaults(folder)
        except SpecError as exc:
            print(exc, file=sys.stderr)
            failures += 1
            continue
        for path in files:
            checked += 1
            try:
                spec = load_spec(path, defaults)
            except SpecError as exc:
                print(exc, file=sys.stderr)
                failures += 1
                continue
            if spec.pipeline in names:
                print(
                    f"{path}:1:1: pipeline: '{spec.pipeline}' is already defined in "
                    f"{names[spec.pipeline]}; pipeline names must be unique",
                    file=sys.stderr,
                )
                failures += 1
                continue
            names[spec.pipeline] = path
            print(f"ok  {path} → pipeline {spec.pipeline}")
    print(f"{checked} file(s) checked, {failures} with errors", file=sys.stderr)
    return 1 if failures or not checked else 0


def check_data(pipeline: Path, data_uri: str, report: Path | None) -> int:
    """The training data gate outside Airflow: exit 0 pass, 1 fail, 2 usage/config error.

    Prints a JSON summary on stdout. Relative data paths resolve against the current folder;
    s3:// uses boto3's default credentials."""
    from airflow_mlops_provider.adapters.great_expectations import validate_frame
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.contract import checks_from_contract, render_validation_html
    from airflow_mlops_provider.spec.loader import SpecError, load_pipeline_file

    try:
        spec = load_pipeline_file(pipeline)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    storage = Storage(Path.cwd())
    try:
        frame = storage.read_frame(data_uri, spec.data.format)
    except Exception as exc:  # unreadable batch: the gate fails closed, with the reason
        print(
            json.dumps(
                {
                    "passed": False,
                    "source": storage.resolve(data_uri),
                    "error": f"cannot read the batch: {type(exc).__name__}: {exc}",
                }
            )
        )
        return 1
    result = validate_frame(frame, checks_from_contract(spec.contract))
    if report:
        title = f"{spec.pipeline}: data validation"
        report.write_text(render_validation_html(result, title=title, source=data_uri))
    summary = {
        "passed": result.passed,
        "source": storage.resolve(data_uri),
        "rows": result.row_count,
        "failures": [
            {
                "rule": f.check.rule,
                "column": f.check.column,
                "check": f.check.describe(),
                "observed": f.observed,
                "unexpected_count": f.unexpected_count,
            }
            for f in result.failures()
        ],
    }
    print(json.dumps(summary, default=str))
    return 0 if result.passed else 1


def drift_cli(reference: str, current: str, pipeline: Path | None, report: Path | None) -> int:
    """The drift engine outside Airflow: exit 0 no drift, 1 drift, 2 usage/config error.

    REF is a batch (parquet or CSV, file or folder, local or s3://) or a saved drift profile
    (.json, e.g. a model version's `mlops.drift_profile`). With --pipeline its features and
    drift settings are used; without, a profile's features, or every shared column of the two
    batches (numbers as numeric, the rest as categorical) with the default settings. Prints the
    JSON summary with the per-feature results on stdout."""
    from airflow_mlops_provider.core.drift import compare_profile
    from airflow_mlops_provider.core.drift_html import render_html
    from airflow_mlops_provider.spec.models import DriftSpec

    try:
        spec, profile, frame = _drift_inputs(reference, current, pipeline)
        monitoring = spec.monitoring if spec else None
        settings = (spec.drift if spec else DriftSpec()).compare_settings(
            *([monitoring.prediction_column] if monitoring else [])
        )
        result = compare_profile(profile, frame, **settings)
    except Exception as exc:  # unreadable input or bad settings: a usage error, not a verdict
        print(f"airflow-mlops drift: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if report:
        report.write_text(render_html(result, title=f"Drift: {current} vs {reference}"))
    print(json.dumps({"reference": reference, "current": current, **result.summary()}))
    return 1 if result.dataset_drift else 0


def _drift_inputs(
    reference: str, current: str, pipeline: Path | None
) -> tuple[PipelineSpec | None, Any, pd.DataFrame]:
    """(spec, reference profile, current frame) for the drift command."""
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.drift_profile import DriftProfile, fit_profile
    from airflow_mlops_provider.spec.loader import load_pipeline_file

    spec = load_pipeline_file(pipeline) if pipeline else None
    storage = Storage(Path.cwd())
    frame = storage.read_frame(current, _format_of(current))
    if reference.rstrip("/").endswith(".json"):
        profile = DriftProfile.from_dict(json.loads(storage.read_text(reference)))
        if spec is not None:
            _check_profile_features(profile, spec)
        return spec, profile, frame
    ref_frame = storage.read_frame(reference, _format_of(reference))
    numeric, categorical = _drift_columns(spec, ref_frame, frame)
    if not numeric and not categorical:
        raise ValueError("the two batches share no column to compare")
    profile = fit_profile(ref_frame, numeric=numeric, categorical=categorical)
    return spec, profile, frame


def _check_profile_features(profile: Any, spec: PipelineSpec) -> None:
    features = spec.data.features
    wanted = {
        **dict.fromkeys(features.numeric, "numeric"),
        **dict.fromkeys(features.categorical, "categorical"),
    }
    have = {name: column.kind for name, column in profile.columns.items()}
    if wanted != have:
        raise ValueError(
            f"the profile's features {sorted(have)} do not match the pipeline's "
            f"{sorted(wanted)} (names and kinds); fit a profile for this pipeline"
        )


def _format_of(uri: str) -> str:
    return "csv" if uri.rstrip("/").endswith(".csv") else "parquet"


def _drift_columns(
    spec: PipelineSpec | None, reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[list[str], list[str]]:
    """The pipeline's features; else the shared columns, skipping timestamps and id-like text
    (more than half the values distinct), which no distribution test makes sense of."""
    if spec is not None:
        return spec.data.features.numeric, spec.data.features.categorical
    import pandas as pd

    numeric, categorical = [], []
    for name in (c for c in reference.columns if c in current.columns):
        column = reference[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            continue
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numeric.append(name)
        elif column.nunique() <= len(column) / 2:
            categorical.append(name)
    return numeric, categorical


def render_pod(path: Path) -> int:
    """Print the exact pod spec (YAML) for a `compute: kubernetes` pipeline; no cluster needed.

    Run-time values (the MLflow run id, snapshot paths, lineage) are shown as placeholders."""
    import yaml

    from airflow_mlops_provider.execution.contract import trainer_env
    from airflow_mlops_provider.execution.kubernetes import render_pod as render
    from airflow_mlops_provider.spec.loader import SpecError, load_pipeline_file

    try:
        spec = load_pipeline_file(path)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    if spec.training.compute != "kubernetes":
        print(
            f"{path}: training.compute is {spec.training.compute!r}; render-pod needs "
            "compute: kubernetes",
            file=sys.stderr,
        )
        return 2
    env = trainer_env(
        spec,
        tracking_uri=spec.mlflow.tracking_uri or "<mlflow_default connection>",
        run_id="<created at run time>",
        train_uri="<snapshot>/train.parquet",
        holdout_uri="<snapshot>/holdout.parquet",
        lineage={"mlops.pipeline": spec.pipeline},
    )
    with contextlib.redirect_stdout(sys.stderr):  # the pod operator logs to stdout
        pod = render(spec, env)
    print(yaml.safe_dump(pod, sort_keys=False), end="")
    return 0


def _group(paths: list[Path]) -> list[tuple[Path, list[Path]]]:
    from airflow_mlops_provider.spec.loader import pipeline_files

    groups = []
    for path in paths:
        if path.is_dir():
            groups.append((path, pipeline_files(path)))
        else:
            groups.append((path.parent, [path]))
    return groups


if __name__ == "__main__":
    sys.exit(main())
