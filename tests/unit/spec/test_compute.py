"""`compute:` (spec/compute.py): where validation, drift and evaluation run."""

from __future__ import annotations

import pytest

from airflow_mlops_provider.cli import STEP_NAMES
from airflow_mlops_provider.spec import ComputeSpec, load_spec
from airflow_mlops_provider.spec.compute import STEPS

POD_READY = (
    "# notifications:",
    "storage: {root: s3://b/m}\nmlflow: {tracking_uri: https://mlflow.example.com}\n"
    "# notifications:",
)


def test_every_step_runs_in_the_worker_by_default(example) -> None:
    file, _ = example.variant()
    spec = load_spec(file)
    assert spec.compute.on_pods() == []
    assert all(spec.step_pod(step) is None for step in STEPS)


def test_the_short_and_the_long_form_mean_the_same() -> None:
    short = ComputeSpec.model_validate({"drift": "kubernetes"})
    long = ComputeSpec.model_validate({"drift": {"mode": "kubernetes"}})
    assert short == long and short.on_pods() == ["drift"]


def test_a_step_pod_takes_the_trainer_image_unless_it_names_its_own(example) -> None:
    compute = (
        "compute:\n  validation: {mode: kubernetes, image: ghcr.io/acme/steps:2}\n"
        "  evaluation: {mode: kubernetes, resources: {gpu: 1}, timeout_minutes: 20}\n"
        "  kubernetes: {namespace: ml-steps}\n"
    )
    file, _ = example.variant(
        ("  source: include/demo/data/batches", "  source: s3://lake/batches"),
        ("compute: local", "compute: kubernetes\n  image: ghcr.io/acme/trainer:1"),
        (POD_READY[0], compute + POD_READY[1]),
    )
    spec = load_spec(file)
    assert spec.compute.on_pods() == ["validation", "evaluation"]
    evaluation = spec.step_pod("evaluation")
    assert evaluation.image == "ghcr.io/acme/trainer:1"  # loads models: the trainer's image
    assert evaluation.resources.gpu == 1 and evaluation.timeout_minutes == 20
    assert evaluation.kubernetes.namespace == "ml-steps"
    assert spec.step_pod("validation").image == "ghcr.io/acme/steps:2"
    assert spec.step_pod("drift") is None


def test_a_validation_pod_does_not_need_mlflow(example) -> None:
    """Validation never reads the registry: a local MLflow store does not stop its pod."""
    file, _ = example.variant(
        ("  source: include/demo/data/batches", "  source: s3://lake/batches"),
        (
            POD_READY[0],
            "compute: {validation: {mode: kubernetes, image: ghcr.io/a/s:1}}\n"
            "storage: {root: s3://b/m}\nmlflow: {tracking_uri: sqlite:///m.db}\n# notifications:",
        ),
    )
    assert load_spec(file).compute.on_pods() == ["validation"]


def test_an_unknown_mode_is_refused_at_its_key(example) -> None:
    file, text = example.variant((POD_READY[0], "compute: {drift: gpu}\n# notifications:"))
    problems = example.problems(file)
    assert [p.path for p in problems] == ["compute.drift.mode"], problems
    assert "'local' or 'kubernetes'" in problems[0].message
    assert problems[0].line == example.line_of(text, "compute: {drift: gpu}")


@pytest.mark.parametrize("step", STEPS)
def test_the_cli_knows_every_step(step: str) -> None:
    assert step in STEP_NAMES and len(STEP_NAMES) == len(STEPS)
