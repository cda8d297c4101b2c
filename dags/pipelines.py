"""Airflow DAG loader: every pipeline YAML in this folder becomes its DAGs."""

from airflow_mlops_provider import load_pipelines

load_pipelines(globals())
