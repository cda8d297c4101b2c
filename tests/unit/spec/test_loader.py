"""Spec loading: valid YAML, defaults merging, and errors that name file, line, field, fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import SpecError, load_defaults, load_spec
from airflow_mlops_provider.spec.loader import MAX_FILE_BYTES

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def example_with(old: str, new: str) -> str:
    text = EXAMPLE.read_text()
    assert old in text, old
    return text.replace(old, new, 1)


def error_of(path: Path, defaults=None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(path, defaults)
    return info.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_example_loads_with_documented_defaults() -> None:
    spec = load_spec(EXAMPLE)
    assert spec.pipeline == "churn"
    assert spec.model_name == "churn" and spec.experiment_name == "churn"
    assert spec.drift.correction == "bonferroni"
    assert spec.approval.mode == "risk" and spec.approval.on_timeout == "reject"
    assert spec.dag_id("training") == "churn__training"


def test_unknown_key_names_line_and_suggests(tmp_path: Path) -> None:
    text = example_with("  task: binary_classification", "  taks: binary_classification")
    problem = error_of(write(tmp_path, text)).problems[0]
    assert problem.path == "data.taks"
    assert problem.line == line_of(text, "taks:")
    assert "did you mean 'task'" in problem.message


def test_wrong_type_reports_value_and_place(tmp_path: Path) -> None:
    text = example_with("holdout_fraction: 0.2", "holdout_fraction: lots")
    error = error_of(write(tmp_path, text))
    assert str(error).startswith(f"{tmp_path / 'p.yaml'}:{line_of(text, 'lots')}:")
    assert "data.split.holdout_fraction" in str(error) and "'lots'" in str(error)


def test_all_problems_reported_in_document_order(tmp_path: Path) -> None:
    text = example_with("min_rows: 1000", 'min_rows: "1000"')
    text = text.replace('schedule: "@weekly"', "schedule: every week", 1)
    problems = error_of(write(tmp_path, text)).problems
    assert [p.path for p in problems] == ["schedule", "contract.min_rows"]
    assert "cron" in problems[0].message


def test_missing_section_is_named(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().split("evaluation:")[0] + "monitoring:\n  source: x\n"
    problem = error_of(write(tmp_path, text)).problems[0]
    assert problem.path == "evaluation" and "add 'evaluation:'" in problem.message


def test_python_tag_is_refused_and_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = f"pipeline: !!python/object/apply:os.system ['touch {marker}']\n"
    error = error_of(write(tmp_path, text))
    assert "not allowed" in str(error) and not marker.exists()


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "pipeline: a\nowner: x\npipeline: b\n"))
    assert error.problems[0].line == 3 and "duplicate key" in error.problems[0].message


def test_anchor_bomb_is_bounded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    error = error_of(write(tmp_path, "\n".join(lines) + "\n"))
    assert "expands to more than" in str(error)


def test_oversized_and_non_utf8_files(tmp_path: Path) -> None:
    big = write(tmp_path, "# " + "x" * MAX_FILE_BYTES, "big.yaml")
    assert "at most" in str(error_of(big))
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"pipeline: caf\xe9\n")
    assert "not valid UTF-8" in str(error_of(bad))


def test_contract_must_cover_features(tmp_path: Path) -> None:
    text = example_with("    support_calls: {type: int, min: 0, max: 50}\n", "")
    error = error_of(write(tmp_path, text))
    assert "add: support_calls" in str(error)


def test_empty_gate_and_wrong_task_metric(tmp_path: Path) -> None:
    empty = example_with(
        "    roc_auc: {min: 0.65, max_regression: 0.01}\n    accuracy: {min: 0.6}\n", "    {}\n"
    )
    assert "evaluation.metrics" in str(error_of(write(tmp_path, empty, "e.yaml")))
    wrong = example_with("accuracy: {min: 0.6}", "rmse: {max: 3}")
    problem = error_of(write(tmp_path, wrong)).problems[0]
    assert problem.path == "evaluation.metrics.rmse" and problem.line == line_of(wrong, "rmse:")
    assert "rmse does not apply to binary_classification; use roc_auc" in problem.message


def test_defaults_merge_under_pipeline(tmp_path: Path) -> None:
    defaults = (
        "owner: platform-team\nretries: 3\ndrift: {alpha: 0.05, drift_share: 0.5}\n"
        "training: {timeout_minutes: 30}\n"
    )
    write(tmp_path, defaults, "defaults.yaml")
    pipeline = write(tmp_path, example_with("owner: ml-platform\n", ""))
    spec = load_spec(pipeline, load_defaults(tmp_path))
    assert (spec.owner, spec.retries) == ("platform-team", 3)
    assert (spec.drift.alpha, spec.drift.drift_share) == (0.01, 0.25)  # pipeline's own win
    assert spec.training.timeout_minutes == 30  # nested default merged...
    assert spec.training.params["max_iter"] == 200  # ...beside the pipeline's own settings


def test_error_in_defaults_points_at_defaults_file(tmp_path: Path) -> None:
    write(tmp_path, "retries: many\n", "defaults.yaml")
    pipeline = write(tmp_path, example_with("owner: ml-platform\n", ""))
    problem = error_of(pipeline, load_defaults(tmp_path)).problems[0]
    assert problem.file.endswith("defaults.yaml") and problem.path == "retries"


def test_kubernetes_compute_needs_image_and_remote_storage(tmp_path: Path) -> None:
    text = example_with("compute: local", "compute: kubernetes")
    assert "needs training.image" in str(error_of(write(tmp_path, text)))
    text = text.replace("command: [python", "image: trainer:1\n  command: [python")
    assert "needs storage.root on s3://" in str(error_of(write(tmp_path, text)))


def test_pod_settings_are_rejected_for_local_compute(tmp_path: Path) -> None:
    text = example_with("  params:", "  image: trainer:1\n  params:")
    assert "training.image: for compute: kubernetes only" in str(error_of(write(tmp_path, text)))


def test_training_env_cannot_override_the_contract(tmp_path: Path) -> None:
    text = example_with("  params:", "  env: {MLFLOW_RUN_ID: x, LOG_LEVEL: debug}\n  params:")
    problem = error_of(write(tmp_path, text)).problems[0]
    assert problem.path == "training.env.MLFLOW_RUN_ID" and "set by the platform" in problem.message
    assert problem.line == line_of(text, "MLFLOW_RUN_ID")


def test_gpu_is_rejected_for_local_compute(tmp_path: Path) -> None:
    text = example_with("  params:", "  resources: {gpu: 1}\n  params:")
    problem = error_of(write(tmp_path, text)).problems[0]
    assert (
        problem.path == "training.resources.gpu" and "compute: kubernetes only" in problem.message
    )
    assert problem.line == line_of(text, "resources: {gpu: 1}")


# -- contract: {file: ...} in ODCS v3 ---------------------------------------------------------

INLINE_CONTRACT = EXAMPLE.read_text().split("contract:\n", 1)[1].split("\ndrift:", 1)[0]
ODCS = """\
apiVersion: v3.0.2
kind: DataContract
id: urn:datacontract:churn
name: churn events
version: 1.0.0
status: active
schema:
  - name: churn_events
    logicalType: object
    properties:
      - {name: customer_id, logicalType: string, required: true, unique: true,
         logicalTypeOptions: {pattern: "^c[0-9]+$"}}
      - {name: event_time, logicalType: timestamp, required: true}
      - name: tenure_months
        logicalType: integer
        required: true
        logicalTypeOptions: {minimum: 0, maximum: 72}
      - {name: monthly_charges, logicalType: number, required: true,
         logicalTypeOptions: {minimum: 0, maximum: 500}}
      - name: total_charges
        logicalType: number
        quality:
          - {metric: nullValues, mustBeLessOrEqualTo: 5, unit: percent, severity: warning}
      - {name: support_calls, logicalType: integer, required: true}
      - name: contract
        logicalType: string
        required: true
        quality:
          - metric: invalidValues
            arguments: {validValues: [month-to-month, one-year, two-year]}
            mustBe: 0
      - {name: payment_method, logicalType: string, required: true}
      - {name: internet_service, logicalType: string, required: true}
      - {name: churned, logicalType: integer, required: true}
    quality:
      - {metric: rowCount, mustBeBetween: [1000, 1000000]}
      - {metric: duplicateValues, arguments: {properties: [customer_id, event_time]}, mustBe: 0}
"""


def odcs_project(tmp_path: Path, odcs: str = ODCS, block: str = "") -> Path:
    """tmp/dags/p.yaml whose contract is include/churn.odcs.yaml (relative to the project)."""
    (tmp_path / "include").mkdir(exist_ok=True)
    (tmp_path / "include" / "churn.odcs.yaml").write_text(odcs)
    (tmp_path / "dags").mkdir(exist_ok=True)
    contract = "contract:\n  file: include/churn.odcs.yaml\n" + block
    text = EXAMPLE.read_text().replace("contract:\n" + INLINE_CONTRACT, contract, 1)
    assert "file: include" in text
    return write(tmp_path / "dags", text)


def test_odcs_contract_file_becomes_the_contract(tmp_path: Path) -> None:
    block = "  freshness: {column: event_time, max_age_hours: 36}\n"
    spec = load_spec(odcs_project(tmp_path, block=block))
    contract = spec.contract
    assert (contract.min_rows, contract.max_rows) == (1000, 1_000_000)
    customer = contract.columns["customer_id"]
    assert (customer.type, customer.required, customer.unique, customer.pattern) == (
        "str",
        True,
        True,
        "^c[0-9]+$",
    )
    assert contract.columns["event_time"].type == "datetime"
    assert (contract.columns["tenure_months"].min, contract.columns["tenure_months"].max) == (0, 72)
    total = contract.columns["total_charges"]
    assert (total.required, total.max_null_fraction, total.severity) == (False, 0.05, "warn")
    assert contract.columns["contract"].allowed == ["month-to-month", "one-year", "two-year"]
    assert [k.columns for k in contract.unique_keys] == [["customer_id", "event_time"]]
    assert contract.freshness is not None and contract.freshness.max_age_hours == 36


def test_odcs_unsupported_key_names_file_line_and_the_supported_keys(tmp_path: Path) -> None:
    odcs = ODCS.replace(
        "logicalTypeOptions: {minimum: 0, maximum: 72}",
        "logicalTypeOptions: {minimum: 0, maximum: 72, exclusiveMaximum: true}",
    )
    problem = error_of(odcs_project(tmp_path, odcs)).problems[0]
    assert problem.file == str(tmp_path / "include" / "churn.odcs.yaml")
    assert problem.line == line_of(odcs, "exclusiveMaximum")
    assert problem.path == "schema[0].properties[2].logicalTypeOptions.exclusiveMaximum"
    assert "unsupported key 'exclusiveMaximum'" in problem.message
    assert "supports here: minimum, maximum, pattern" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "status: active\n",
            "status: active\nservers: []\n",
            "servers:",
            "unsupported key 'servers'",
        ),
        (
            "logicalType: integer\n        required",
            "logicalType: array\n        required",
            "array",
            "supported logicalType: integer, number",
        ),
        (
            "{metric: rowCount, mustBeBetween: [1000, 1000000]}",
            "{metric: rowCount, mustBe: 5}",
            "mustBe: 5",
            "supported for rowCount",
        ),
        (
            "metric: invalidValues",
            "metric: freshness",
            "freshness",
            "supported metric here: nullValues",
        ),
        (
            "{metric: nullValues, mustBeLessOrEqualTo: 5, unit: percent, severity: warning}",
            "{metric: nullValues, mustBeLessOrEqualTo: 5, unit: rows}",
            "unit: rows",
            "with unit: percent",
        ),
        (
            "{metric: nullValues, mustBeLessOrEqualTo: 5, unit: percent, severity: warning}",
            "{type: sql, query: select 1}",
            "type: sql",
            "not sql/custom",
        ),
        ("apiVersion: v3.0.2", "apiVersion: v2.2.2", "v2.2.2", "supported: ODCS v3"),
    ],
)
def test_odcs_outside_the_subset_is_an_error(tmp_path, old, new, needle, message) -> None:
    assert old in ODCS
    odcs = ODCS.replace(old, new, 1)
    error = error_of(odcs_project(tmp_path, odcs))
    assert any(message in p.message and p.line == line_of(odcs, needle) for p in error.problems), (
        str(error)
    )


def test_odcs_values_are_validated_with_positions_in_the_odcs_file(tmp_path: Path) -> None:
    odcs = ODCS.replace("{minimum: 0, maximum: 72}", "{minimum: 80, maximum: 72}")
    problem = error_of(odcs_project(tmp_path, odcs)).problems[0]
    assert problem.file.endswith("churn.odcs.yaml")
    assert problem.line == line_of(odcs, "minimum: 80")  # the key at fault
    assert "min (80.0) is greater than max (72.0)" in problem.message


def test_contract_file_block_rejects_inline_columns_and_bad_paths(tmp_path: Path) -> None:
    path = odcs_project(tmp_path, block="  columns: {}\n")
    problem = error_of(path).problems[0]
    assert problem.path == "contract.columns" and "comes from the contract file" in problem.message
    text = path.read_text().replace("  columns: {}\n", "")
    escaped = write(tmp_path / "dags", text.replace("include/churn", "../../churn"), "e.yaml")
    assert "must be a path inside the project" in str(error_of(escaped))
    missing = write(tmp_path / "dags", text.replace("include/churn", "include/nope"), "m.yaml")
    assert "no file" in str(error_of(missing))


def test_unknown_key_in_a_list_of_rules_lists_the_allowed_keys(tmp_path: Path) -> None:
    text = example_with(
        "  min_rows: 1000\n",
        "  min_rows: 1000\n  unique_keys:\n"
        "    - {columns: [customer_id, event_time], sevrity: warn}\n",
    )
    problem = error_of(write(tmp_path, text)).problems[0]
    assert problem.path == "contract.unique_keys[0].sevrity"
    assert problem.line == line_of(text, "sevrity")
    assert "did you mean 'severity'? allowed here: columns, severity" in problem.message


def test_inline_quality_rules_load(tmp_path: Path) -> None:
    text = example_with(
        "    customer_id: {type: str, unique: true}",
        "    customer_id: {type: str, unique: true, severity: warn}",
    )
    text = text.replace(
        "  min_rows: 1000\n",
        "  min_rows: 1000\n  freshness: {column: event_time, max_age_hours: 48}\n"
        "  no_future_timestamps: true\n",
    )
    contract = load_spec(write(tmp_path, text)).contract
    assert contract.columns["customer_id"].unique
    assert contract.columns["customer_id"].severity == "warn"
    assert contract.freshness is not None and contract.freshness.column == "event_time"
    assert contract.no_future_timestamps is not None
    assert contract.no_future_timestamps.tolerance_minutes == 5


def deep_yaml(levels: int, extra_markers: int = 1_100) -> str:
    """A pipeline whose `tags` nest `levels` flow lists deep (line 3), with enough other
    markers that the loader's pre-scan runs."""
    filler = "# " + "- " * extra_markers + "\n"
    return f"{filler}pipeline: deep\ntags: {'[' * levels}x{']' * levels}\n"


@pytest.mark.parametrize("levels", [65, 999, 1_000, 1_001, 5_000])
def test_deep_nesting_is_reported_in_the_projects_words(tmp_path: Path, levels: int) -> None:
    """Below, at and beyond libyaml's own limit (1000 since PyYAML 6.0.4) the message is the
    project's, at the line and column where level 65 opens."""
    error = error_of(write(tmp_path, deep_yaml(levels)))
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert "settings nest more than 64 levels deep" in problem.message
    assert "exceeded maximum nesting depth" not in str(error)
    assert (problem.line, problem.column) == (3, 70)  # the document mapping is level 1


def test_deep_nesting_message_without_libyaml(tmp_path: Path, monkeypatch) -> None:
    """PyYAML without its C extension (pure Python, no nesting limit): the same verdict."""
    import yaml

    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    problem = error_of(write(tmp_path, deep_yaml(3_000))).problems[0]
    assert "nest more than 64 levels deep" in problem.message and problem.line == 3


def test_deep_nesting_message_whatever_limit_the_library_has(tmp_path: Path, monkeypatch) -> None:
    """A YAML library that refuses nesting at 100 levels in its own words (as libyaml does at
    1000): the project's check still decides, because it rescans what the library read."""
    import yaml

    from airflow_mlops_provider.spec import loader

    real_parse = yaml.parse

    def strict_parse(stream, Loader):  # noqa: N803 — PyYAML's own keyword
        depth = 0
        for event in real_parse(stream, Loader=Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > 100:
                    raise yaml.scanner.ScannerError(
                        "while increasing flow level",
                        event.start_mark,
                        "exceeded maximum nesting depth",
                        event.start_mark,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            yield event

    monkeypatch.setattr(loader.yaml, "parse", strict_parse)
    problem = error_of(write(tmp_path, deep_yaml(500))).problems[0]
    assert "nest more than 64 levels deep" in problem.message
    assert (problem.line, problem.column) == (3, 70)
