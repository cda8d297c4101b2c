"""Templated values are rendered at validate time, per run type, in a sandbox like Airflow's:
errors name file:line and the field; a gap only some run types have is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import SpecError, load_spec
from airflow_mlops_provider.spec import templates as tpl

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"
SOURCE = "source: include/demo/data/batches/dt={{ ds }}"
LABELS = "labels: include/demo/data/labels/dt={{ ds }}"
LOGS = "source: include/demo/data/inference_logs/dt={{ ds }}"


def only_problem(path: Path):
    with pytest.raises(SpecError) as info:
        load_spec(path)
    (problem,) = info.value.problems
    return problem


@pytest.mark.parametrize(
    ("edit", "path", "fix"),
    [
        pytest.param(
            (LABELS, "labels: 'lake/labels/{{ ds }}/{{ window_end }}'"),
            "monitoring.labels",
            "window_end is undefined; variables a run has include ds",
            id="undefined-in-every-run",
        ),
        pytest.param(
            (SOURCE, "source: 'lake/{{ ds | nodash }}'"),
            "data.source",
            "No filter named 'nodash'",
            id="unknown-filter",
        ),
        pytest.param(
            (SOURCE, "source: 'lake/{% if ds %}{{ ds }}'"),
            "data.source",
            "template syntax error",
            id="unclosed-block",
        ),
        pytest.param(
            (LOGS, 'source: "logs/{{ dag_run.conf.__class__.__base__ }}"'),
            "monitoring.source",
            "it tries to leave Jinja's sandbox",
            id="sandbox-escape",
        ),
        pytest.param(
            (SOURCE, "source: \"s3://{{ conn.get('aws_default').login }}/x\""),
            "data.source",
            "may not read Airflow conn",
            id="connection-read",
        ),
        pytest.param(
            (LABELS, "labels: '{{ var.json.lake.bucket }}/labels'"),
            "monitoring.labels",
            "may not read Airflow var",
            id="variable-read",
        ),
        pytest.param(
            (SOURCE, "source: \"{{ '.' ~ '.' }}/elsewhere/{{ ds }}\""),
            "data.source",
            "renders to '../elsewhere/2026-01-15', a path with '..'",
            id="renders-outside",
        ),
        pytest.param(
            (SOURCE, "source: \"lake/{{ 'x' * 99999999 }}\""),
            "data.source",
            "a repetition that large is refused",
            id="huge-repetition",
        ),
        pytest.param(
            (
                SOURCE,
                'source: "lake/{% for a in range(99999) %}{% for b in range(99999) %}'
                '{% endfor %}{% endfor %}"',
            ),
            "data.source",
            "rendering took over 0.25 s",
            id="runaway-loop",
        ),
        pytest.param(
            (SOURCE, 'source: "lake/{{ params.batch }}"'),
            "data.source",
            "has no attribute 'batch'",
            id="unknown-param",
        ),
        pytest.param(
            (SOURCE, 'source: "lake/' + "{{ ds }}" * 300 + '"'),
            "data.source",
            "a template of 2405 characters",
            id="too-long",
        ),
    ],
)
def test_a_template_that_cannot_render_is_an_error_at_its_key(
    example, edit: tuple[str, str], path: str, fix: str
) -> None:
    file, text = example.variant(edit)
    problem = only_problem(file)
    assert problem.path == path and fix in problem.message, problem
    assert problem.line == example.line_of(text, edit[1][:20])


def test_logical_date_in_an_asset_triggered_dag_is_a_warning(example) -> None:
    file, text = example.variant((SOURCE, "source: lake/batches/{{ ts_nodash }}"))
    warnings: list = []
    load_spec(file, warnings=warnings)
    (warning,) = warnings
    assert warning.path == "data.source" and warning.line == example.line_of(
        text, "{{ ts_nodash }}"
    )
    assert "not for asset-triggered runs (ts_nodash is undefined" in warning.message
    assert "`{{ ds }}` and `{{ batch }}` (the run's batch, docs/runs.md) render" in (
        warning.message
    )


@pytest.mark.parametrize("variable", ["ds", "ds_nodash", "batch"])
def test_the_run_batch_renders_in_every_run_type(example, variable: str) -> None:
    """Tasks set batch/ds/ds_nodash from the run's batch (operators/run_identity.py), so
    `dt={{ ds }}` is no warning in a DAG that monitoring's retrain requests trigger."""
    template = f"lake/dt={{{{ {variable} }}}}"
    replay = f"metric_source: replay\n  replay: {{source: '{template}'}}"
    for edit in ((SOURCE, f"source: {template}"), ("metric_source: replay", replay)):
        file, _ = example.variant(edit)
        warnings: list = []
        load_spec(file, warnings=warnings)
        assert warnings == [], edit


def test_no_warning_without_asset_runs_or_with_a_run_independent_date(example) -> None:
    quiet, _ = example.variant(("retrain_on_request: true", "retrain_on_request: false"))
    warnings: list = []
    load_spec(quiet, warnings=warnings)
    assert warnings == []
    every_run, _ = example.variant(
        (SOURCE, 'source: "lake/{{ (dag_run.logical_date or dag_run.run_after) | ds }}"')
    )
    load_spec(every_run, warnings=warnings)
    assert warnings == []


def test_monitoring_source_always_has_the_day_it_renders() -> None:
    """collect_window renders monitoring.source once per day of the window, as ds."""
    issues = tpl.check_one("logs/{{ ds_nodash }}", ("monitoring", "source"), (tpl.ASSET_TRIGGERED,),
                           added=("ds", "ds_nodash"))  # fmt: skip
    assert issues == ()


def test_the_run_variables_are_one_list_to_extend(monkeypatch: pytest.MonkeyPatch) -> None:
    source, loc = "lake/{{ batch_id }}", ("data", "source")
    runs = (tpl.SCHEDULED, tpl.ASSET_TRIGGERED)
    assert "batch_id is undefined" in tpl.check_one(source, loc, runs)[0].message
    for run_type, names in tpl.RUN_VARIABLES.items():
        monkeypatch.setitem(tpl.RUN_VARIABLES, run_type, (*names, "batch_id"))
    tpl.check_one.cache_clear()  # results are cached per source; the variables changed
    assert tpl.check_one(source, loc, runs) == ()
    tpl.check_one.cache_clear()


def test_power_towers_and_format_widths_are_refused_before_computing() -> None:
    for source in (
        "x/{{ 9 ** 9 ** 9 }}",
        "x/{{ '%099999999d' % 1 }}",
        "x/{{ 99999 * 99999 * 99999 }}",
    ):
        (issue,) = tpl.check_one(source, ("data", "source"), (tpl.SCHEDULED,))
        assert "refused" in issue.message or "beyond" in issue.message, issue


def test_untemplated_training_values_refuse_templates(example) -> None:
    file, _ = example.variant(("  params:", "  env: {RUN_DAY: 'day-{{ ds }}'}\n  params:"))
    assert only_problem(file).path == "training.env.RUN_DAY"
    command = "command: [python, include/trainer/train.py"
    file, _ = example.variant((command + "]", command + ", '--day={{ ds }}']"))
    problem = only_problem(file)
    assert problem.path == "training.command[2]" and "not templated" in problem.message


def test_prometheus_queries_fill_only_version_arm_and_window(tmp_path: Path) -> None:
    canary = (
        "canary:\n  enabled: true\n  router: kserve\n  kserve: {name: churn}\n"
        "  metric_source: prometheus\n  prometheus:\n    url: http://prom:9090\n"
        "    queries:\n"
        '      error_rate: \'sum(rate(e{v="{{ version }}",ns="{{ namespace }}"}[5m]))\'\n'
        "    samples: 'sum(increase(r{v=\"{{ version }}\"}[{{ window }}]))'\n"
        "  steps: [{set_weight: 10}, {analysis: {metrics: {error_rate: {max: 0.1}}}}]\n"
    )
    text = EXAMPLE.read_text()
    start, end = text.index("canary:\n"), text.index("\nmonitoring:")
    file = tmp_path / "p.yaml"
    file.write_text(text[:start] + canary + text[end:])
    problem = only_problem(file)
    assert problem.path == "canary.prometheus.queries.error_rate"
    assert "namespace would reach Prometheus as written" in problem.message
