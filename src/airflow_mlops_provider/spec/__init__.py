"""Pipeline YAML → typed PipelineSpec. No Airflow import, so `airflow-mlops validate` runs in CI."""

from airflow_mlops_provider.spec.loader import Problem, SpecError, load_defaults, load_spec
from airflow_mlops_provider.spec.models import PipelineSpec

__all__ = ["PipelineSpec", "Problem", "SpecError", "load_defaults", "load_spec"]
