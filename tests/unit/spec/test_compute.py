"""`compute:` (spec/compute.py): where validation, drift, evaluation, scoring and the canary
replay run."""

from __future__ import annotations

import pytest

from airflow_mlops_provider.cli import STEP_NAMES
from airflow_mlops_provider.spec import ComputeSpec, load_spec
from airflow_mlops_provider.spec.compute import MODEL_STEPS, STEPS

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


REPLAY_POD = (
    POD_READY[0],
    "compute: {replay: {mode: kubernetes, image: ghcr.io/acme/scorer:3, resources: {gpu: 1}}}\n"
    + POD_READY[1],
)


def test_the_canary_replay_runs_in_a_pod_of_its_own_image(example) -> None:
    """churn.yaml canaries on the local router: its windows may be scored in a pod, which
    reads the registry like the other model steps."""
    file, _ = example.variant(REPLAY_POD)
    spec = load_spec(file)
    assert spec.compute.on_pods() == ["replay"] and "replay" in MODEL_STEPS
    pod = spec.step_pod("replay")
    assert pod.image == "ghcr.io/acme/scorer:3" and pod.resources.gpu == 1


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (("  enabled: true\n  router: local", "  enabled: false\n  router: local"), "enabled is"),
        (
            ("  router: local\n  metric_source: replay", "  router: kserve\n  kserve: "
             "{namespace: ml, name: churn}\n  metric_source: inference_logs\n  inference_logs: "
             "{source: s3://logs/churn}"),
            "router is kserve",
        ),
    ],
)  # fmt: skip
def test_a_replay_pod_without_a_local_canary_is_refused_with_the_fix(
    example, edit: tuple[str, str], why: str
) -> None:
    file, text = example.variant(edit, REPLAY_POD)
    problems = example.problems(file)
    assert [p.path for p in problems] == ["compute.replay"], problems
    assert why in problems[0].message
    assert "remove compute.replay, or use canary: {enabled: true, router: local}" in (
        problems[0].message
    )
    assert problems[0].line == example.line_of(text, "compute: {replay:")


def test_a_replay_pod_reads_its_requests_from_s3(example) -> None:
    file, text = example.variant(
        ("  metric_source: replay\n", "  metric_source: replay\n  replay: {source: logs/x}\n"),
        REPLAY_POD,
    )
    problems = example.problems(file)
    assert [p.path for p in problems] == ["canary.replay.source"], problems
    assert "compute.replay: kubernetes reads this in a pod: put it on s3://" in problems[0].message
