"""Airflow 3 provider: YAML-driven continuous-training and monitoring DAGs.

Kept import-light on purpose: `import airflow_mlops_provider` must not pull in pandas, MLflow or
Great Expectations, because the DAG loader imports it at every parse.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_pipelines"]


def __getattr__(name: str):
    if name == "load_pipelines":
        from airflow_mlops_provider.factory.loader import load_pipelines

        return load_pipelines
    raise AttributeError(name)
