"""The validate-time template check against Airflow itself: its sandbox renders like
Airflow's template environment, its run variables are the Task SDK's context keys, its fake
dag_run has the SDK DagRun's fields, and its list of templated keys covers every YAML value a
built DAG's tasks hold as a template."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import jinja2
import pytest

from airflow_mlops_provider.spec import load_spec
from airflow_mlops_provider.spec import templates as tpl

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

CASES = [
    "lake/{{ ds }}/{{ ds_nodash }}",
    "lake/{{ logical_date | ds }}/{{ data_interval_end | ts_nodash }}",
    "lake/{{ dag_run.run_after.strftime('%Y/%m/%d') }}",
    "lake/{{ params.force_retrain }}",
    "lake/{% set d = ds.split('-') %}{{ d[0] }}/{{ d[1] }}",
    "lake/{% do [].append(1) %}{{ run_id }}",
    "lake/{{ missing }}",
    "lake/{{ ds.missing }}",
    "lake/{{ dag_run.__class__ }}",
    "lake/{{ ''.__class__.__mro__ }}",
    "lake/{{ dag_run._private_helper }}",
    "lake/{{ ds | no_such_filter }}",
    "lake/{{ ds ",
    "lake/{% for x in range(3) %}{{ x }}{% endfor %}",
]


def outcome(env: jinja2.Environment, source: str, context: dict) -> str:
    try:
        return "ok:" + env.from_string(source).render(context)
    except Exception as exc:  # the class of failure is what must agree
        return type(exc).__name__


@pytest.mark.parametrize("source", CASES)
def test_the_check_renders_like_airflow(source: str) -> None:
    from airflow.sdk.definitions._internal.templater import create_template_env

    context = tpl._context(tpl.SCHEDULED, ())
    airflow = outcome(create_template_env(), source, context)
    ours = outcome(tpl.checking_environment(), source, context)
    assert ours == airflow


def test_filters_and_dag_run_fields_are_airflows() -> None:
    from airflow.sdk.api.datamodels._generated import DagRun
    from airflow.sdk.definitions._internal.templater import FILTERS

    assert set(tpl.AIRFLOW_FILTERS) == set(FILTERS)
    assert set(vars(tpl._context(tpl.MANUAL, ())["dag_run"])) == set(DagRun.model_fields)


def test_run_variables_are_the_task_sdk_context_keys() -> None:
    """A new Airflow that adds or drops a context key fails here: extend RUN_VARIABLES."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    source = inspect.getsource(RuntimeTaskInstance.get_template_context)
    keys = set(re.findall(r'^\s*"([a-z_]+)":', source, re.M))
    keys |= set(re.findall(r'\["([a-z_]+)"\] =', source))
    keys -= {"json", "value"}  # the keys of `var`'s own mapping
    assert keys == set(tpl.EVERY_RUN) | set(tpl.WITH_LOGICAL_DATE)


def test_every_templated_yaml_value_is_checked(tmp_path: Path) -> None:
    """Build the DAGs of a pipeline where each templated key has a marker value; every task
    attribute holding a template must come from a key the check renders."""
    from airflow_mlops_provider.factory.builders import build_dags

    markers = {
        ("data", "source"): "m/data-source/{{ ds }}",
        ("monitoring", "source"): "m/monitoring-source/{{ ds }}",
        ("monitoring", "labels"): "m/monitoring-labels/{{ ds }}",
        ("canary", "replay", "source"): "m/replay-source/{{ ds }}",
    }
    text = (ROOT / "dags" / "churn.yaml").read_text()
    text = text.replace("include/demo/data/batches/dt={{ ds }}", markers[("data", "source")])
    text = text.replace(
        "include/demo/data/inference_logs/dt={{ ds }}", markers[("monitoring", "source")]
    )
    text = text.replace("include/demo/data/labels/dt={{ ds }}", markers[("monitoring", "labels")])
    replay = f"  replay: {{source: '{markers[('canary', 'replay', 'source')]}'}}\n"
    text = text.replace("  metric_source: replay\n", "  metric_source: replay\n" + replay)
    path = tmp_path / "churn.yaml"
    path.write_text(text)
    spec = load_spec(path)
    held = set()
    for dag in build_dags(spec, str(tmp_path), text, "churn.yaml"):
        for task in dag.tasks:
            for name, value in vars(task).items():
                if isinstance(value, str) and "{{" in value and name != "doc_md":
                    held.add(value)
    assert held == set(markers.values())
    assert set(markers) <= {field.loc for field in tpl.TEMPLATED}
