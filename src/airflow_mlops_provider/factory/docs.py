"""DAG docs (the UI's "Dag Docs"): what the DAG is for, what each task decides, where to see
the pipeline as a whole, and the YAML it was built from at the end.

The UI renders docs as Markdown without HTML, so the YAML is a code block at the bottom, not
a folded section. `yaml_text` is shown as given: the caller passes it masked of secrets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from airflow_mlops_provider.links import pipeline_view_url

_PURPOSE = {
    "training": "Trains a new model version when the data calls for it, and releases it only "
    "if it beats the champion.",
    "monitoring": "Watches the champion in production: serving data, drift and live "
    "performance; asks for retraining when they degrade.",
    "health": "Posts one daily health report of the pipeline.",
    "rollback": "Moves the champion back to an earlier version (manual; param `version`, "
    "empty: the previous champion) and puts all traffic on it.",
}

_TASKS = {
    "training": [
        ("wait_for_batch", "waits for the batch's marker file (only with `data.wait`)"),
        ("validate_data", "checks the batch against the contract; a bad batch stops the run "
         "(report: extra link *Validation report*) and is quarantined; a good one becomes an "
         "immutable snapshot"),
        ("detect_drift", "compares the batch with the champion's training data: drift (or no "
         "champion yet, `force_retrain`, a retrain request) → `retrain`, else `skip_retrain` "
         "(extra link *Drift report*)"),
        ("retrain", "trains the challenger in its MLflow run and registers the version (extra "
         "link *MLflow run*)"),
        ("evaluate", "scores challenger and champion on the same holdout; bounds, fairness, "
         "latency and the risk score decide promote, ask a person, or reject (extra link "
         "*Gate report*)"),
        ("approve", "asks a person (Required actions) when the gate says so"),
        ("canary_promote", "rolls the challenger out step by step (canary) and makes it "
         "champion, or rolls traffic back"),
        ("reject", "records the gate's rejection; nothing moves"),
        ("notify", "sends the run's summary (Slack, or the log)"),
    ],
    "monitoring": [
        ("collect_window", "freezes the period's inference logs (scored by the champion when "
         "they carry no predictions)"),
        ("validate_serving_data", "checks the serving data against the contract (extra link "
         "*Validation report*)"),
        ("detect_drift", "compares serving data with the champion's training data (extra link "
         "*Drift report*)"),
        ("live_performance", "the evaluation metric on requests whose labels arrived"),
        ("decide", "drift or decay → `request_retraining` + `alert` (or only `alert` within "
         "the cooldown); otherwise `healthy`"),
        ("request_retraining", "emits the retrain-request Asset event the training DAG is "
         "scheduled on"),
        ("alert", "sends the alert with the top drifted features and the live metric"),
    ],
    "health": [("health_report", "latest monitoring decision, live metric, champion, last "
                "training: JSON in storage and one message")],
    "rollback": [("rollback", "moves `champion` and reverts the router's traffic; running it "
                  "twice changes nothing the second time")],
}  # fmt: skip


def dag_docs(
    spec: Any,
    kinds: Iterable[str],
    *,
    yaml_text: str,
    source_file: str,
    warnings: Sequence[str] = (),
) -> dict[str, str]:
    """Markdown docs of the pipeline's DAGs by kind (training, monitoring, health, rollback);
    `warnings` are the loader's (`airflow-mlops validate` lists them too). What the kinds
    share (the warnings, the pipelines view link, the YAML) is written once per pipeline:
    every DAG parse builds them all."""
    description = f"{spec.description}\n\n" if spec.description else ""
    listed = "".join(f"- {warning}\n" for warning in warnings)
    noted = (
        f"**Warnings** (`airflow-mlops validate` lists them too):\n\n{listed}\n" if listed else ""
    )
    tail = (
        f"**The pipeline as a whole** (champion, versions, drift and live metric over time, "
        f"pending approvals, canary): [MLOps pipelines view]({pipeline_view_url(spec.pipeline)})"
        f". Each decision is also this run's note and in the audit log.\n\n"
        f"**Built from** `{source_file}` by airflow-mlops-provider (the YAML is below; check "
        f"changes with `airflow-mlops validate`).\n\n"
        f"#### {spec.pipeline} YAML\n\n```yaml\n{yaml_text.rstrip()}\n```\n"
    )
    return {
        kind: f"### {spec.pipeline}: {kind}\n\n{description}{_PURPOSE.get(kind, '')}\n\n{noted}"
        f"**Tasks**\n\n{_tasks(kind)}\n\n{tail}"
        for kind in kinds
    }


def _tasks(kind: str) -> str:
    return "\n".join(f"- `{task}`: {what}" for task, what in _TASKS.get(kind, []))
