"""`inference_logs`: logged predictions of the serving system, grouped by model version.

The log is a parquet/csv file or folder (e.g. what a KServe logger sink writes) with one row
per request: the version that answered, its prediction, and optionally the label once it is
known, the latency and an error flag. The source is templated per run (`{{ ds }}`), so each
measurement reads what the serving system has logged by then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.metric_sources import by_version

if TYPE_CHECKING:
    from airflow_mlops_provider.core.estimates import ArmEstimate


class InferenceLogsSource:
    def __init__(self, storage: Any, settings: Any, *, source: str, label: str | None, threshold):
        self.storage = storage
        self.settings = settings
        self.source = source
        self.label = label
        self.threshold = threshold

    def measure(
        self, names: list[str], *, challenger: str, champion: str, step: int, window_seconds: float
    ) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate]]:
        s = self.settings
        frame = self.storage.read_frame(self.source, s.format)
        missing = [c for c in (s.version_column, s.prediction_column) if c not in frame]
        if missing:
            from airflow_mlops_provider.exceptions import MlopsConfigError

            raise MlopsConfigError(
                f"canary.inference_logs: {self.source} has no column(s) {missing}; set "
                "version_column / prediction_column to the log's names"
            )
        return by_version(
            frame,
            names,
            {"canary": challenger, "champion": champion},
            version_column=s.version_column,
            label=self.label,
            prediction=s.prediction_column,
            latency=s.latency_column,
            error=s.error_column,
            threshold=self.threshold,
        )
