"""`airflow-mlops`: validate pipeline YAMLs, check data, compare batches for drift, judge a
challenger with the evaluation gate, run the demo and the Airflow UI on it.

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

    from airflow_mlops_provider.spec import PipelineSpec


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
    gate = sub.add_parser(
        "gate", help="judge a challenger against a champion with the pipeline's gate"
    )
    gate.add_argument("pipeline", type=Path)
    gate.add_argument(
        "--challenger", required=True, help="MLflow model URI (models:/, runs:/) or model folder"
    )
    gate.add_argument("--champion", help="the same for the champion (absent: a first model)")
    gate.add_argument("--holdout", required=True, help="labelled rows (file or folder)")
    gate.add_argument("--report", type=Path, help="also write the HTML gate report here")
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
        from airflow_mlops_provider.spec import PipelineSpec

        print(json.dumps(PipelineSpec.model_json_schema(), indent=2))
        return 0
    if args.command == "check-data":
        return check_data(args.pipeline, args.data_uri, args.report)
    if args.command == "drift":
        return drift_cli(args.reference, args.current, args.pipeline, args.report)
    if args.command == "gate":
        return gate_cli(args.pipeline, args.challenger, args.champion, args.holdout, args.report)
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
    s3:// uses boto3's default credentials. The checks are the pipeline's data gate's own
    (services/validation.py), without the snapshot, quarantine and audit."""
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.contract import checks_from_contract, render_validation_html
    from airflow_mlops_provider.services.validation import UnreadableBatch, check_batch
    from airflow_mlops_provider.spec.loader import SpecError, load_pipeline_file

    try:
        spec = load_pipeline_file(pipeline)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    storage = Storage(Path.cwd())
    checks = checks_from_contract(spec.contract)
    try:
        _, result = check_batch(storage, data_uri, spec.data.format, checks, now=None)
    except Exception as exc:  # the gate fails closed, with the reason
        error = str(exc) if isinstance(exc, UnreadableBatch) else f"{type(exc).__name__}: {exc}"
        print(json.dumps({"passed": False, "source": storage.resolve(data_uri), "error": error}))
        return 1
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
    """The drift engine outside Airflow: exit 0 no drift, 1 drift, 2 usage/config error
    (a damaged profile included), 3 not enough evidence (a batch too small to tell, or
    features that could not be judged: a person looks).

    REF is a batch (parquet or CSV, file or folder, local or s3://) or a saved drift profile
    (.json, e.g. a model version's `mlops.drift_profile`). With --pipeline its features and
    drift settings are used; without, a profile's features, or every shared column of the two
    batches (numbers as numeric, the rest as categorical) with the default settings. Prints the
    JSON summary with the per-feature results on stdout."""
    from airflow_mlops_provider.core.drift_html import render_html
    from airflow_mlops_provider.services.drift import judge
    from airflow_mlops_provider.spec import DriftSpec

    try:
        spec, profile, frame = _drift_inputs(reference, current, pipeline)
        monitoring = spec.monitoring if spec else None
        drift = spec.drift if spec else DriftSpec()
        result = judge(profile, frame, drift, monitoring.prediction_column if monitoring else None)
    except Exception as exc:  # unreadable input or bad settings: a usage error, not a verdict
        print(f"airflow-mlops drift: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if report:
        report.write_text(render_html(result, title=f"Drift: {current} vs {reference}"))
    print(json.dumps({"reference": reference, "current": current, **result.summary()}))
    return {"drift": 1, "no_drift": 0}.get(result.verdict, 3)


GATE_EXIT = {"promote": 0, "reject": 1, "approval": 3}


def gate_cli(
    pipeline: Path, challenger: str, champion: str | None, holdout: str, report: Path | None
) -> int:
    """The evaluation gate outside Airflow, the same core code as the `evaluate` task:
    exit 0 promote, 1 reject, 3 a person decides, 2 usage or configuration error. Prints the
    gate's JSON result (decision, reasons, every check with its interval) on stdout."""
    from airflow_mlops_provider.core.evaluation import evaluate
    from airflow_mlops_provider.core.gate_report import render_html

    try:
        spec = _load_spec(pipeline)
        frame = _gate_holdout(spec, holdout)
        models = [_load_model(uri, spec) if uri else None for uri in (challenger, champion)]
        result = evaluate(
            holdout=frame,
            challenger=models[0].predict,
            champion=models[1].predict if models[1] else None,
            data=spec.data,
            evaluation=spec.evaluation,
            approval=spec.approval,
        )
    except Exception as exc:  # unreadable input or bad settings: a usage error, not a verdict
        print(f"airflow-mlops gate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    result |= {"challenger": challenger, "champion": champion, "holdout": holdout}
    if report:
        title = f"Gate: {spec.pipeline} ({result['decision']})"
        report.write_text(render_html(result, title=title))
    print(json.dumps(result, default=str))
    return GATE_EXIT[result["decision"]]


def _load_spec(pipeline: Path) -> PipelineSpec:
    from airflow_mlops_provider.spec.loader import load_pipeline_file

    return load_pipeline_file(pipeline)


def _gate_holdout(spec: PipelineSpec, location: str) -> pd.DataFrame:
    """The holdout rows; they must carry the features, the target and the group columns."""
    from airflow_mlops_provider.adapters.storage import Storage

    frame = Storage(Path.cwd()).read_frame(location, _format_of(location))
    fairness = spec.evaluation.fairness
    needed = [
        *spec.data.features.all,
        spec.data.target,
        *(fairness.group_columns if fairness else []),
    ]
    missing = [c for c in needed if c not in frame.columns]
    if missing or frame.empty:
        raise ValueError(
            f"holdout {location} has no rows or lacks column(s) {missing}: it needs the "
            "features, the target and the fairness group columns"
        )
    return frame


def _load_model(uri: str, spec: PipelineSpec) -> Any:
    """An MLflow pyfunc from a model URI or a local model folder (the pipeline's tracking URI,
    else MLFLOW_TRACKING_URI, resolves models:/ and runs:/ URIs)."""
    import warnings

    import mlflow

    if spec.mlflow.tracking_uri:
        mlflow.set_tracking_uri(spec.mlflow.tracking_uri)
    with warnings.catch_warnings():  # skops flavours scan modules and warn about each
        warnings.simplefilter("ignore")
        return mlflow.pyfunc.load_model(uri)


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
    """csv for a .csv file, or for a local folder whose data parts are CSV (and none parquet);
    parquet otherwise. (The smallest fix until the one reader for every format lands.)"""
    if uri.rstrip("/").endswith(".csv"):
        return "csv"
    folder = Path(uri)
    if "://" not in uri and folder.is_dir():
        parts = {p.suffix for p in folder.iterdir() if p.is_file() and p.name[0] not in "._"}
        if ".csv" in parts and ".parquet" not in parts:
            return "csv"
    return "parquet"


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
        spec.training,
        spec.data,
        tracking_uri=spec.mlflow.tracking_uri or "<mlflow_default connection>",
        run_id="<created at run time>",
        train_uri="<snapshot>/train.parquet",
        holdout_uri="<snapshot>/holdout.parquet",
        lineage={"mlops.pipeline": spec.pipeline},
    )
    with contextlib.redirect_stdout(sys.stderr):  # the pod operator logs to stdout
        pod = render(
            spec.training,
            pipeline=spec.pipeline,
            kubernetes_conn_id=spec.connections.kubernetes,
            env=env,
        )
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
