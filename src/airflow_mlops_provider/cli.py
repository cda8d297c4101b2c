"""`airflow-mlops`: validate pipeline YAMLs, export the JSON Schema, run the demo.

`validate` needs no Airflow and exits 1 on any error, so it fits CI and pre-commit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow-mlops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check pipeline YAMLs (files or dags folders)")
    validate.add_argument("paths", nargs="+", type=Path)
    sub.add_parser("schema", help="print the pipeline JSON Schema (for editor autocomplete)")
    render = sub.add_parser("render-pod", help="print the training pod a pipeline would create")
    render.add_argument("pipeline", type=Path)
    demo = sub.add_parser("demo", help="run the continuous-training loop on the embedded default")
    demo.add_argument(
        "--project",
        type=Path,
        default=Path.cwd(),
        help="folder holding dags/ and include/ (default: current folder)",
    )
    args = parser.parse_args(argv)
    if args.command == "validate":
        return validate_paths(args.paths)
    if args.command == "schema":
        from airflow_mlops_provider.spec.models import PipelineSpec

        print(json.dumps(PipelineSpec.model_json_schema(), indent=2))
        return 0
    if args.command == "render-pod":
        return render_pod(args.pipeline)
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


def render_pod(path: Path) -> int:
    """Print the exact pod spec (YAML) for a `compute: kubernetes` pipeline; no cluster needed.

    Run-time values (the MLflow run id, snapshot paths, lineage) are shown as placeholders."""
    import yaml

    from airflow_mlops_provider.execution.contract import trainer_env
    from airflow_mlops_provider.execution.kubernetes import render_pod as render
    from airflow_mlops_provider.spec.loader import SpecError, load_defaults, load_spec

    try:
        spec = load_spec(path, load_defaults(path.parent))
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
