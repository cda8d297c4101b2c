"""One exception hierarchy, so callers can catch what the provider raises and nothing else."""

from __future__ import annotations


class MlopsError(Exception):
    """Base class of every error raised by airflow-mlops-provider."""


class MlopsConfigError(MlopsError, ValueError):
    """A pipeline YAML (or defaults.yaml) is invalid; the message names file, line, field, fix."""


class DataValidationError(MlopsError):
    """A data batch broke its contract; the gate stops the pipeline before any model step."""


class DataReadError(MlopsError, ValueError):
    """A batch cannot be read as data: the message names the file (and the row and column when
    one value is at fault) and what to change. The gate rejects such a batch, never skips it."""


class TrainingError(MlopsError):
    """The trainer failed, did not finish its MLflow run, or logged no model."""


class RegistryError(MlopsError):
    """The model registry is not in the state a step needs (e.g. no version to roll back to)."""


class PathNotAllowedError(MlopsConfigError):
    """A local path from a pipeline points outside the allowed roots (`..`, symlink, absolute)."""


class ConnectionUnreadableError(MlopsConfigError):
    """An Airflow connection is configured but cannot be read (a malformed AIRFLOW_CONN_*
    value, a secrets backend that refuses, no host): never treated as "not configured"."""
