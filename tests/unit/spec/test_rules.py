"""Cross-block rules (spec/rules.py): each error names the file:line of the key it is about,
its field path and the fix — never the whole document."""

from __future__ import annotations

import pytest

from airflow_mlops_provider.spec import SpecError, load_spec


@pytest.mark.parametrize(
    ("edits", "path", "line_text", "fix"),
    [
        pytest.param(
            [("    support_calls: {type: int, min: 0, max: 50}\n", "")],
            "contract.columns",
            "  columns:",
            "add: support_calls",
            id="contract-covers-features",
        ),
        pytest.param(
            [
                ("    event_time: {type: datetime}\n", ""),
                ("    churned: {type: int", "    x: {type: int"),
            ],
            "contract.columns",
            "  columns:",
            "add: churned, event_time",
            id="contract-covers-target-and-time",
        ),
        pytest.param(
            [("    group_columns: [payment_method]", "    group_columns: [region]")],
            "evaluation.fairness.group_columns",
            "group_columns: [region]",
            "must be contract columns; use customer_id",
            id="fairness-columns",
        ),
        pytest.param(
            [("  drift_share: 0.25\n", "  drift_share: 0.25\n  features: {tenure: {test: ks}}\n")],
            "drift.features.tenure",
            "features: {tenure:",
            "'tenure' is not a declared feature; use one of tenure_months",
            id="drift-unknown-feature",
        ),
        pytest.param(
            [
                (
                    "  drift_share: 0.25\n",
                    "  drift_share: 0.25\n  features:\n    contract: {test: psi}\n"
                    "    tenure_months: {test: linf}\n",
                )
            ],
            "drift.features.tenure_months.test",
            "tenure_months: {test: linf}",
            "linf does not apply to numeric features; use auto, ks, psi",
            id="drift-test-kind",
        ),
        pytest.param(
            [("  alpha: 0.01\n", "  alpha: 0.01\n  test: chi2\n")],
            "drift.test",
            "  test: chi2",
            "chi2 does not apply to numeric features",
            id="drift-default-test-kind",
        ),
        pytest.param(
            [("    accuracy: {min: 0.6}\n", "    accuracy: {min: 0.6}\n    mae: {max: 2}\n")],
            "evaluation.metrics.mae",
            "    mae: {max: 2}",
            "mae does not apply to binary_classification; use roc_auc",
            id="gate-metric-task",
        ),
        pytest.param(
            [("metric: accuracy, min: 0.74", "metric: r2, min: 0.74")],
            "monitoring.performance.metric",
            "performance: {metric: r2",
            "'r2' does not apply to binary_classification",
            id="performance-metric-task",
        ),
        pytest.param(
            [
                (
                    "      error_rate: {max: 0.01}\n",
                    "      error_rate: {max: 0.01}\n      r2: {min: 0}\n",
                )
            ],
            "canary.analysis.metrics.r2",  # the template the steps took it from
            "      r2: {min: 0}",
            "'r2' is not measured by metric_source replay; use accuracy",
            id="canary-metric-source",
        ),
        pytest.param(
            [
                ("compute: local", "compute: kubernetes\n  image: ghcr.io/acme/trainer:1"),
                ("# notifications:", "storage: {root: /data/mlops}\n# notifications:"),
            ],
            "storage.root",
            "storage: {root: /data/mlops}",
            "compute: kubernetes needs storage.root on s3://",
            id="pod-storage-written",
        ),
        pytest.param(
            [("compute: local", "compute: kubernetes\n  image: ghcr.io/acme/trainer:1")],
            "training.compute",
            "compute: kubernetes",
            "storage.root is '.mlops'",
            id="pod-storage-default",
        ),
        pytest.param(
            [
                ("compute: local", "compute: kubernetes\n  image: ghcr.io/acme/trainer:1"),
                (
                    "# notifications:",
                    "storage: {root: s3://b/m}\nmlflow: {tracking_uri: sqlite:///m.db}\n#",
                ),
            ],
            "mlflow.tracking_uri",
            "mlflow: {tracking_uri:",
            "needs an MLflow server the pod can reach",
            id="pod-mlflow",
        ),
        pytest.param(
            [("# notifications:", "compute: {drift: kubernetes}\n# notifications:")],
            "compute.drift",
            "compute: {drift: kubernetes}",
            "set compute.drift.image (an image with airflow-mlops-provider",
            id="step-pod-image",
        ),
        pytest.param(
            [
                (
                    "# notifications:",
                    "compute:\n  validation: {mode: kubernetes, image: ghcr.io/a/s:1}\n"
                    "# notifications:",
                )
            ],
            "compute.validation",
            "  validation: {mode: kubernetes",
            "needs storage.root on s3:// (the step pod reads and writes there)",
            id="step-pod-storage",
        ),
        pytest.param(
            [
                (
                    "# notifications:",
                    "compute:\n  validation: {mode: kubernetes, image: ghcr.io/a/s:1}\n"
                    "storage: {root: s3://b/m}\n# notifications:",
                )
            ],
            "data.source",
            "  source: include/demo/data/batches",
            "compute.validation: kubernetes reads this in a pod: put it on s3://",
            id="step-pod-source",
        ),
        pytest.param(
            [
                (
                    "# notifications:",
                    "compute: {evaluation: {mode: kubernetes, image: ghcr.io/a/s:1}}\n"
                    "storage: {root: s3://b/m}\nmlflow: {tracking_uri: sqlite:///m.db}\n#",
                )
            ],
            "mlflow.tracking_uri",
            "mlflow: {tracking_uri:",
            "needs an MLflow server the pod can reach",
            id="step-pod-mlflow",
        ),
        pytest.param(
            [
                (
                    "# notifications:",
                    "compute: {scoring: {mode: kubernetes, image: ghcr.io/a/s:1}}\n"
                    "storage: {root: s3://b/m}\n# notifications:",
                )
            ],
            "monitoring.source",
            "  source: include/demo/data/inference_logs",
            "compute.scoring: kubernetes reads this in a pod: put it on s3://",
            id="step-pod-logs",
        ),
        pytest.param(
            [
                (
                    "# notifications:",
                    "compute: {drift: {mode: local, resources: {cpu: 2}}}\n# notifications:",
                )
            ],
            "compute.drift.resources",
            "compute: {drift:",
            "for mode: kubernetes only",
            id="step-local-with-pod-settings",
        ),
    ],
)
def test_cross_block_rule_points_at_its_key(
    example, edits: list, path: str, line_text: str, fix: str
) -> None:
    file, text = example.variant(*edits)
    with pytest.raises(SpecError) as info:
        load_spec(file)
    matching = [p for p in info.value.problems if p.path == path]
    assert matching, info.value.problems
    problem = matching[0]
    assert problem.line == example.line_of(text, line_text), problem
    assert fix in problem.message, problem.message
    assert "(document)" not in str(info.value) and "{'pipeline'" not in str(info.value)


def test_fairness_on_regression_points_at_fairness(example) -> None:
    file, text = example.variant(
        ("task: binary_classification", "task: regression"),
        (
            "    roc_auc: {min: 0.65, max_regression: 0.01}\n    accuracy: {min: 0.6}\n",
            "    rmse: {max: 3}\n",
        ),
        ("roc_auc: {max_regression: 0.05}", "rmse: {max_regression: 0.5}"),
        ("metric: accuracy, min: 0.74", "metric: mae, max: 5"),
    )
    with pytest.raises(SpecError) as info:
        load_spec(file)
    (problem,) = info.value.problems
    assert problem.path == "evaluation.fairness" and problem.line == example.line_of(
        text, "  fairness:"
    )
    assert "applies to binary_classification" in problem.message and "remove it" in problem.message


def test_several_cross_block_problems_are_reported_together(example) -> None:
    file, text = example.variant(
        ("    support_calls: {type: int, min: 0, max: 50}\n", ""),
        ("    accuracy: {min: 0.6}\n", "    accuracy: {min: 0.6}\n    rmse: {max: 2}\n"),
    )
    with pytest.raises(SpecError) as info:
        load_spec(file)
    assert [p.path for p in info.value.problems] == ["contract.columns", "evaluation.metrics.rmse"]


def test_block_level_errors_do_not_dump_the_block(example) -> None:
    file, _ = example.variant(("accuracy: {min: 0.6}", "accuracy: {relative: true}"))
    with pytest.raises(SpecError) as info:
        load_spec(file)
    text = str(info.value)
    assert "evaluation.metrics.accuracy: give at least one of min" in text
    assert "found" not in text and "{'relative'" not in text
