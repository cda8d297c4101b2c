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

    from airflow_mlops_provider.adapters.reader import Batch
    from airflow_mlops_provider.spec import PipelineSpec


CHUNK_HELP = "rows read and checked at a time (default 500,000): memory, not results"
STEP_NAMES = (
    "validation",
    "drift",
    "evaluation",
    "scoring",
    "replay",
)  # spec/compute.py STEPS, without importing it


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
    check.add_argument("--chunk-rows", type=int, default=None, help=CHUNK_HELP)
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
    drift.add_argument("--chunk-rows", type=int, default=None, help=CHUNK_HELP)
    render = sub.add_parser("render-pod", help="print the pods a pipeline would create")
    render.add_argument("pipeline", type=Path)
    render.add_argument(
        "--step",
        choices=["training", *STEP_NAMES],
        help="only this step's pod (default: every step that runs on kubernetes)",
    )
    step = sub.add_parser("run-step", help="run one pipeline step from a stored request (pods)")
    step.add_argument("step", choices=STEP_NAMES)
    step.add_argument("--request", required=True, help="the request's URI (s3:// or a path)")
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
        from airflow_mlops_provider.spec.reference import json_schema

        print(json.dumps(json_schema(), indent=2))
        return 0
    if args.command == "check-data":
        return check_data(args.pipeline, args.data_uri, args.report, args.chunk_rows)
    if args.command == "drift":
        return drift_cli(args.reference, args.current, args.pipeline, args.report, args.chunk_rows)
    if args.command == "gate":
        return gate_cli(args.pipeline, args.challenger, args.champion, args.holdout, args.report)
    if args.command == "render-pod":
        return render_pod(args.pipeline, args.step)
    if args.command == "run-step":
        return run_step(args.step, args.request)
    if args.command == "ui":
        from airflow_mlops_provider.ui_server import run_ui

        return run_ui(args.project.resolve(), args.port)
    from airflow_mlops_provider.demo import run_demo

    return run_demo(args.project.resolve())


def validate_paths(paths: list[Path]) -> int:
    """Validate each file (a folder means its pipeline files, with its defaults.yaml), as the
    DAG loader would: every error, the warnings, the skipped files, duplicate names."""
    from airflow_mlops_provider.spec import SpecError, duplicate_names, load_defaults, load_spec

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
            warnings: list = []
            try:
                names[path] = load_spec(path, defaults, warnings=warnings).pipeline
            except SpecError as exc:
                print(exc, file=sys.stderr)
                failures += 1
            for warning in warnings:
                print(f"warning: {warning}", file=sys.stderr)
    clashes = duplicate_names(names)
    for message in clashes.values():
        print(message, file=sys.stderr)
    for path, name in names.items():
        if path not in clashes:
            print(f"ok  {path} → pipeline {name}")
    failures += len(clashes)
    print(f"{checked} file(s) checked, {failures} with errors", file=sys.stderr)
    return 1 if failures or not checked else 0


def check_data(
    pipeline: Path, data_uri: str, report: Path | None, chunk_rows: int | None = None
) -> int:
    """The training data gate outside Airflow: exit 0 pass, 1 fail, 2 usage/config error.

    Prints a JSON summary on stdout. Relative data paths resolve against the current folder;
    s3:// uses boto3's default credentials. The checks are the pipeline's data gate's own
    (services/validation.py), without the snapshot, quarantine and audit; the batch
    streams in chunks (docs/data.md)."""
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.contract import checks_from_contract, render_validation_html
    from airflow_mlops_provider.services.validation import (
        UnreadableBatch,
        check_batch,
        contract_types,
    )
    from airflow_mlops_provider.spec import SpecError, load_pipeline_file

    try:
        spec = load_pipeline_file(pipeline)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    storage = Storage(Path.cwd())
    checks = checks_from_contract(spec.contract)
    try:
        _, result = check_batch(
            storage, data_uri, spec.data.format, checks, now=None,
            types=contract_types(spec.contract), csv=spec.data.csv, chunk_rows=chunk_rows,
        )  # fmt: skip
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


def _chunking(chunk_rows: int | None) -> dict[str, int]:
    return {} if chunk_rows is None else {"chunk_rows": chunk_rows}


def drift_cli(
    reference: str,
    current: str,
    pipeline: Path | None,
    report: Path | None,
    chunk_rows: int | None = None,
) -> int:
    """The drift engine outside Airflow: exit 0 no drift, 1 drift, 2 usage/config error
    (a damaged profile included), 3 not enough evidence (a batch too small to tell, or
    features that could not be judged: a person looks).

    REF is a batch (parquet or CSV, file or folder, local or s3://) or a saved drift profile
    (.json, e.g. a model version's `mlops.drift_profile`). With --pipeline its features and
    drift settings are used; without, a profile's features, or every shared column of the two
    batches (numbers as numeric, the rest as categorical) with the default settings. Both
    batches stream in chunks. Prints the JSON summary with the per-feature results on stdout."""
    from airflow_mlops_provider.core.drift_html import render_html
    from airflow_mlops_provider.services.drift import judge
    from airflow_mlops_provider.spec import DriftSpec, SpecError

    try:
        spec, profile, batch = _drift_inputs(reference, current, pipeline, chunk_rows)
        monitoring = spec.monitoring if spec else None
        drift = spec.drift if spec else DriftSpec()
        predicted = monitoring.prediction_column if monitoring else None
        result = judge(profile, batch, drift, predicted, chunk_rows=chunk_rows)
    except SpecError as exc:  # already file:line: field: fix
        print(exc, file=sys.stderr)
        return 2
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
    from airflow_mlops_provider.spec import load_pipeline_file

    return load_pipeline_file(pipeline)


def _gate_holdout(spec: PipelineSpec, location: str) -> pd.DataFrame:
    """The holdout rows; they must carry the features, the target and the group columns."""
    from airflow_mlops_provider.adapters.batch_files import guess_format
    from airflow_mlops_provider.adapters.storage import Storage

    storage = Storage(Path.cwd())
    frame = storage.read_frame(location, guess_format(storage, location))
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
    reference: str, current: str, pipeline: Path | None, chunk_rows: int | None
) -> tuple[PipelineSpec | None, Any, Batch]:
    """(spec, reference profile, current batch) for the drift command."""
    from airflow_mlops_provider.adapters.batch_files import guess_format
    from airflow_mlops_provider.adapters.drift_batch import fit_batch
    from airflow_mlops_provider.adapters.reader import open_batch
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.drift_profile import DriftProfile
    from airflow_mlops_provider.services.validation import contract_types
    from airflow_mlops_provider.spec import load_pipeline_file

    spec = load_pipeline_file(pipeline) if pipeline else None
    storage = Storage(Path.cwd())

    def batch_at(location: str) -> Batch:
        fmt = spec.data.format if spec else guess_format(storage, location)
        types = contract_types(spec.contract) if spec else None
        return open_batch(storage, location, fmt, types=types, csv=spec.data.csv if spec else None)

    batch = batch_at(current)
    if reference.rstrip("/").endswith(".json"):
        profile = DriftProfile.from_dict(json.loads(storage.read_text(reference)))
        if spec is not None:
            _check_profile_features(profile, spec)
        return spec, profile, batch
    ref_batch = batch_at(reference)
    numeric, categorical = _drift_columns(spec, ref_batch, batch)
    if not numeric and not categorical:
        raise ValueError("the two batches share no column to compare")
    profile = fit_batch(
        ref_batch, numeric=numeric, categorical=categorical, **_chunking(chunk_rows)
    )
    return spec, profile, batch


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


def _drift_columns(
    spec: PipelineSpec | None, reference: Batch, current: Batch
) -> tuple[list[str], list[str]]:
    """The pipeline's features; else the shared columns, skipping timestamps and id-like text
    (more than half the values distinct in the reference's first chunk), which no
    distribution test makes sense of."""
    if spec is not None:
        return spec.data.features.numeric, spec.data.features.categorical
    from airflow_mlops_provider.core.arrow_types import kind

    shared = [f for f in reference.schema if f.name in current.schema.names]
    numeric = [f.name for f in shared if kind(f.type) in ("int", "float")]
    text = [f.name for f in shared if kind(f.type) in ("str", "bool", "other")]
    sample = next(reference.tables(text)) if text else None
    categorical = [
        name for name in text
        if sample is not None and len(sample[name].unique().drop_null()) <= sample.num_rows / 2
    ]  # fmt: skip
    return numeric, categorical


def render_pod(path: Path, step: str | None = None) -> int:
    """Print the exact pod spec (YAML) of each step that runs on kubernetes — training's
    (`training.compute`) and validation's, drift's, evaluation's, scoring's and the canary
    replay's (`compute:`) — or of the one `step`; several pods are separate YAML documents. No
    cluster needed.

    Run-time values (the MLflow run id, snapshot paths, lineage, request URIs) are shown as
    placeholders."""
    import yaml

    from airflow_mlops_provider.execution.kubernetes import render_pod as render
    from airflow_mlops_provider.spec import SpecError, load_pipeline_file

    try:
        spec = load_pipeline_file(path)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    on_pods = (["training"] if spec.training.compute == "kubernetes" else []) + (
        spec.compute.on_pods()
    )
    wanted = [step] if step else on_pods
    if not wanted or step not in (None, *on_pods):
        what = f"{step} does not run" if step else "no step runs"
        print(
            f"{path}: {what} on kubernetes (training.compute, compute.<step>: kubernetes)",
            file=sys.stderr,
        )
        return 2
    with contextlib.redirect_stdout(sys.stderr):  # the pod operator logs to stdout
        pods = [render(_pod_operator(spec, name)) for name in wanted]
    print(yaml.safe_dump_all(pods, sort_keys=False), end="")
    return 0


def _pod_operator(spec: PipelineSpec, step: str) -> Any:
    """The pod operator a task of `spec` builds for `step`, with placeholders for what only a
    run knows."""
    from airflow_mlops_provider.execution import kubernetes
    from airflow_mlops_provider.execution.contract import trainer_env
    from airflow_mlops_provider.spec.compute import MODEL_STEPS

    tracking = spec.mlflow.tracking_uri or "<mlflow_default connection>"
    where = {"pipeline": spec.pipeline, "kubernetes_conn_id": spec.connections.kubernetes}
    if step == "training":
        env = trainer_env(
            spec.training,
            spec.data,
            tracking_uri=tracking,
            run_id="<created at run time>",
            train_uri="<snapshot>/train.parquet",
            holdout_uri="<snapshot>/holdout.parquet",
            lineage={"mlops.pipeline": spec.pipeline},
        )
        return kubernetes.training_pod(
            spec.training, task_id="retrain", run_id="xxxxxxxx", env=env, **where
        )
    return kubernetes.step_pod(
        spec.step_pod(step),
        step=step,
        request_uri=f"<{spec.storage.root}/.../{step} request.json>",
        task_id=step,
        env=kubernetes.step_env(tracking) if step in MODEL_STEPS else {},
        **where,
    )


def run_step(step: str, request_uri: str) -> int:
    """In a step pod: run `step` on the stored request and store its outcome (exit 0), or say
    in one line why it could not run (exit 1). S3 through boto3's credential chain (the pod's
    service account, or AWS_* from `compute.kubernetes.secret_env`); MLflow through
    MLFLOW_TRACKING_URI and MLFLOW_TRACKING_USERNAME/PASSWORD or _TOKEN."""
    import logging
    import os

    from airflow_mlops_provider.adapters.mlflow_registry import Tracking
    from airflow_mlops_provider.adapters.storage import Storage, s3_client
    from airflow_mlops_provider.services.steps import run_request

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    tracking = (
        Tracking(
            uri,
            username=os.environ.get("MLFLOW_TRACKING_USERNAME"),
            password=os.environ.get("MLFLOW_TRACKING_PASSWORD"),
            token=os.environ.get("MLFLOW_TRACKING_TOKEN"),
        )
        if uri
        else None
    )
    try:
        return run_request(
            step, request_uri, storage=Storage(Path.cwd(), s3_client=s3_client), tracking=tracking
        )
    except Exception as exc:  # no request, no storage: nothing ran
        print(f"airflow-mlops run-step {step}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _group(paths: list[Path]) -> list[tuple[Path, list[Path]]]:
    """(folder, its pipeline files) per argument; a folder's skipped YAMLs are listed."""
    from airflow_mlops_provider.spec import scan_folder

    groups = []
    for path in paths:
        try:
            is_folder = path.is_dir()
        except OSError:
            is_folder = False  # reading it as a file names the problem
        if not is_folder:
            groups.append((path.parent, [path]))
            continue
        scan = scan_folder(path)
        for skipped, reason in scan.skipped:
            print(f"skipped {skipped}: {reason}", file=sys.stderr)
        groups.append((path, scan.pipelines))
    return groups


if __name__ == "__main__":
    sys.exit(main())
