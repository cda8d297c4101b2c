"""Provider metadata for Airflow's `apache_airflow_provider` entry point (no heavy import)."""

from __future__ import annotations

from typing import Any

from airflow_mlops_provider import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-mlops-provider",
        "name": "MLOps",
        "description": "YAML-driven continuous-training and monitoring DAGs: data contracts, "
        "drift, retraining, evaluation gates and promotion with MLflow.",
        "versions": [__version__],
        "state": "ready",
        "integrations": [
            {
                "integration-name": "MLOps pipelines",
                "external-doc-url": "https://mlflow.org/docs/latest/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "MLOps pipelines",
                "python-modules": [
                    "airflow_mlops_provider.operators.validate",
                    "airflow_mlops_provider.operators.drift",
                    "airflow_mlops_provider.operators.retrain",
                    "airflow_mlops_provider.operators.evaluate",
                    "airflow_mlops_provider.operators.release",
                    "airflow_mlops_provider.operators.approval",
                    "airflow_mlops_provider.operators.monitoring",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "MLOps pipelines",
                "python-modules": ["airflow_mlops_provider.sensors.batch"],
            }
        ],
        "hooks": [
            {
                "integration-name": "MLOps pipelines",
                "python-modules": [
                    "airflow_mlops_provider.hooks.mlflow",
                    "airflow_mlops_provider.hooks.storage",
                    "airflow_mlops_provider.hooks.prometheus",
                    "airflow_mlops_provider.hooks.slack",
                ],
            }
        ],
        "extra-links": [
            "airflow_mlops_provider.links.MlflowRunLink",
            "airflow_mlops_provider.links.ValidationReportLink",
            "airflow_mlops_provider.links.GateReportLink",
            "airflow_mlops_provider.links.DriftReportLink",
        ],
        "config": {
            "mlops": {
                "description": "The MLOps provider's UI plugin (reports, pipelines view).",
                "options": {
                    "pipelines_folder": {
                        "description": "Folder of the pipeline YAMLs the API server's plugin "
                        "reads (it parses no DAG files); empty: [core] dags_folder.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/dags",
                        "default": "",
                    }
                },
            }
        },
        "connection-types": [
            {
                "hook-class-name": "airflow_mlops_provider.hooks.mlflow.MlflowHook",
                "connection-type": "mlops_mlflow",
            },
            {
                "hook-class-name": "airflow_mlops_provider.hooks.storage.StorageHook",
                "connection-type": "mlops_s3",
            },
            {
                "hook-class-name": "airflow_mlops_provider.hooks.prometheus.PrometheusHook",
                "connection-type": "mlops_prometheus",
            },
            {
                "hook-class-name": "airflow_mlops_provider.hooks.slack.SlackHook",
                "connection-type": "mlops_slack",
            },
        ],
    }
