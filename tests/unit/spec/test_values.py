"""Values that load but cannot work: errors at their key naming the fix (issue 14's classes:
YAML's booleans and nulls, quoted numbers, empty lists and paths, Kubernetes grammar,
environment names, the trainer contract, `..` in executed paths, regexes that cannot compile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.execution.contract import trainer_env
from airflow_mlops_provider.spec import load_spec
from airflow_mlops_provider.spec.training import CONTRACT_ENV

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"
PARAMS = "  params:"
POD = ("compute: local", "compute: kubernetes\n  image: ghcr.io/acme/trainer:1")
REMOTE = ("# notifications:", "storage: {root: s3://b/m}\n# notifications:")


@pytest.mark.parametrize(
    ("edits", "path", "fix"),
    [
        pytest.param(
            [("allowed: [month-to-month, one-year, two-year]", "allowed: []")],
            "contract.columns.contract.allowed",
            "an empty allowed list rejects every value",
            id="allowed-empty",
        ),
        pytest.param(
            [("allowed: [month-to-month, one-year, two-year]", "allowed: [month-to-month, off]")],
            "contract.columns.contract.allowed[1]",
            "YAML read this as false, not as text",
            id="allowed-yaml-boolean",
        ),
        pytest.param(
            [("allowed: [dsl, fiber, none]", "allowed: [dsl, fiber, ~]")],
            "contract.columns.internet_service.allowed[2]",
            "YAML read this as null",
            id="allowed-yaml-null",
        ),
        pytest.param(
            [("allowed: [dsl, fiber, none]", "allowed: [dsl, fiber, 5]")],
            "contract.columns.internet_service.allowed[2]",
            "5 is a number, not text: quote it",
            id="allowed-number-in-text-column",
        ),
        pytest.param(
            [("churned: {type: int, allowed: [0, 1]}", "churned: {type: int, allowed: [0, '1']}")],
            "contract.columns.churned.allowed[1]",
            "'1' is quoted text; an int column's values are numbers: write 1 without quotes",
            id="allowed-quoted-number",
        ),
        pytest.param(
            [("churned: {type: int, allowed: [0, 1]}", "churned: {type: int, allowed: [0, 0.5]}")],
            "contract.columns.churned.allowed[1]",
            "0.5 is not a whole number",
            id="allowed-fraction-in-int-column",
        ),
        pytest.param(
            [("max: 500}", "max: '500'}")],
            "contract.columns.monthly_charges.max",
            "a quoted number is a string: write it without quotes",
            id="bound-quoted-number",
        ),
        pytest.param(
            [("categorical: [contract, payment_method, internet_service]",
              "categorical: [contract, payment_method, internet_service, on]")],
            "data.features.categorical[3]",
            "YAML reads unquoted yes/no/on/off/true/false as booleans",
            id="string-list-yaml-boolean",
        ),
        pytest.param(
            [("source: include/demo/data/batches/dt={{ ds }}", "source: ''")],
            "data.source",
            "an empty path would read the project folder itself",
            id="empty-source",
        ),
        pytest.param(
            [("  cooldown_hours", "  labels: ' '\n  cooldown_hours"),
             ("  labels: include/demo/data/labels/dt={{ ds }}   #", "  #")],
            "monitoring.labels",
            "an empty path",
            id="blank-labels",
        ),
        pytest.param(
            [(PARAMS, "  resources: {cpu: 2 cores}\n" + PARAMS), POD, REMOTE],
            "training.resources.cpu",
            "'2 cores' is not a Kubernetes quantity; write e.g. 8 or 500m",
            id="cpu-words",
        ),
        pytest.param(
            [(PARAMS, "  resources: {memory: 16gb}\n" + PARAMS), POD, REMOTE],
            "training.resources.memory",
            "'16gb' is not a Kubernetes quantity",
            id="memory-lowercase-unit",
        ),
        pytest.param(
            [(PARAMS, "  resources: {cpu: 0}\n" + PARAMS), POD, REMOTE],
            "training.resources.cpu",
            "'0' is zero",
            id="cpu-zero",
        ),
        pytest.param(
            [(PARAMS, "  kubernetes: {scratch_size: 10 GiB}\n" + PARAMS), POD, REMOTE],
            "training.kubernetes.scratch_size",
            "not a Kubernetes quantity",
            id="scratch-size",
        ),
        pytest.param(
            [(PARAMS, "  env: {2FA_MODE: off-line}\n" + PARAMS)],
            "training.env.2FA_MODE",
            "is not an environment variable name",
            id="env-name-digit",
        ),
        pytest.param(
            [(PARAMS, "  kubernetes: {secret_env: {db-user: creds/user}}\n" + PARAMS), POD, REMOTE],
            "training.kubernetes.secret_env.db-user",
            "is not an environment variable name",
            id="secret-env-name",
        ),
        pytest.param(
            [(PARAMS, "  kubernetes: {secret_env: {MLOPS_HOLDOUT_DATA: lake/path}}\n" + PARAMS),
             POD, REMOTE],
            "training.kubernetes.secret_env.MLOPS_HOLDOUT_DATA",
            "set by the platform (trainer contract)",
            id="secret-env-contract",
        ),
        pytest.param(
            [(PARAMS, "  kubernetes: {secret_env: {DB_USER: Creds_DB/user}}\n" + PARAMS),
             POD, REMOTE],
            "training.kubernetes.secret_env.DB_USER",
            "'Creds_DB' is not a Secret name",
            id="secret-name",
        ),
        pytest.param(
            [(PARAMS, "  kubernetes: {namespace: ML_Training}\n" + PARAMS), POD, REMOTE],
            "training.kubernetes.namespace",
            "is not a valid namespace",
            id="namespace",
        ),
        pytest.param(
            [(PARAMS, "  kubernetes: {node_selector: {pool: gpu nodes}}\n" + PARAMS), POD, REMOTE],
            "training.kubernetes.node_selector.pool",
            "is not a Kubernetes label value",
            id="node-selector-value",
        ),
        pytest.param(
            [("command: [python, include/trainer/train.py]",
              "command: [python, include/trainer/../../shared/train.py]")],
            "training.command[1]",
            "'..' is not allowed in paths",
            id="command-escapes",
        ),
        pytest.param(
            [("# notifications:", "mlflow: {tracking_uri: 'sqlite:///data/../../mlflow.db'}\n#")],
            "mlflow.tracking_uri",
            "'..' is not allowed in paths",
            id="sqlite-store-escapes",
        ),
        pytest.param(
            [("customer_id: {type: str, unique: true}",
              "customer_id: {type: str, unique: true, pattern: '" + "(" * 500 + ")" * 500 + "'}")],
            "contract.columns.customer_id.pattern",
            "pattern nests too deeply to compile",
            id="regex-too-deep",
        ),
        pytest.param(
            [("customer_id: {type: str, unique: true}",
              "customer_id: {type: str, unique: true, pattern: '" + "[a-z]" * 300 + "'}")],
            "contract.columns.customer_id.pattern",
            "a pattern of 1500 characters",
            id="regex-too-long",
        ),
    ],
)  # fmt: skip
def test_a_value_that_cannot_work_is_an_error_at_its_key(
    example, edits: list, path: str, fix: str
) -> None:
    found = example.problems(example.variant(*edits)[0])
    assert any(p.path == path and fix in p.message for p in found), found


def test_kubernetes_quantities_people_write_are_accepted(example) -> None:
    resources = "  resources: {cpu: 4, memory: 1.5Gi, gpu: 1}\n"
    kubernetes = "  kubernetes: {scratch_size: 1000000000, namespace: ml-training}\n"
    file, _ = example.variant((PARAMS, resources + kubernetes + PARAMS), POD, REMOTE)
    spec = load_spec(file)
    assert (spec.training.resources.cpu, spec.training.resources.memory) == ("4", "1.5Gi")
    assert spec.training.kubernetes.scratch_size == "1000000000"


def test_secret_env_may_carry_mlflow_credentials_but_not_the_contract(example) -> None:
    refs = "{MLFLOW_TRACKING_TOKEN: mlflow/token, MLFLOW_RUN_ID: runs/id}"
    file, text = example.variant((PARAMS, f"  kubernetes: {{secret_env: {refs}}}\n" + PARAMS),
                         POD, REMOTE)  # fmt: skip
    (problem,) = example.problems(file)
    assert problem.path == "training.kubernetes.secret_env.MLFLOW_RUN_ID"
    assert problem.line == example.line_of(text, "secret_env:")


def test_contract_names_are_the_ones_the_platform_sets(example) -> None:
    spec = load_spec(EXAMPLE)
    env = trainer_env(spec.training, spec.data, tracking_uri="t", run_id="r", train_uri="a",
                      holdout_uri="b", lineage={})  # fmt: skip
    assert set(env) == set(CONTRACT_ENV)  # the example sets no training.env of its own
