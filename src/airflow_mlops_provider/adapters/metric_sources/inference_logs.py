"""`inference_logs`: logged predictions of the serving system, grouped by model version.

The log is a parquet/csv file or folder (e.g. what a KServe logger sink writes) with one row
per request: the version that answered, its prediction, and optionally the label once it is
known, the latency and an error flag. The source is templated per run (`{{ ds }}`), so each
measurement reads what the serving system has logged by then.

A shadow step reads the serving system's shadow predictions (mirrored traffic: the champion
answers, the challenger scores the same request and its answer is dropped) from the same
rows: `shadow_version`, `shadow_prediction` and optionally `shadow_latency_ms`,
`shadow_error` (column names configurable) next to the served model's columns. A request
without shadow columns filled was not mirrored and is not counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.metric_sources import by_version, shadow_pair

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
        frame = self._read((s.version_column, s.prediction_column))
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

    def shadow(
        self, names: list[str], *, challenger: str, champion: str, step: int
    ) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate], dict[str, float]]:
        s = self.settings
        frame = self._read(
            (s.version_column, s.prediction_column, s.shadow_prediction_column)
            + ((s.shadow_version_column,) if s.shadow_version_column else ())
        )
        return shadow_pair(
            frame,
            names,
            {"canary": challenger, "champion": champion},
            version_column=s.version_column,
            shadow_version_column=s.shadow_version_column,
            label=self.label,
            served={
                "prediction": s.prediction_column,
                "latency": s.latency_column,
                "error": s.error_column,
            },
            shadow={
                "prediction": s.shadow_prediction_column,
                "latency": s.shadow_latency_column,
                "error": s.shadow_error_column,
            },
            threshold=self.threshold,
        )

    def _read(self, needed: tuple[str, ...]) -> Any:
        """The log, with the columns the measurement needs (else: which to set, and how)."""
        frame = self.storage.read_frame(self.source, self.settings.format)
        missing = [c for c in needed if c not in frame]
        if missing:
            from airflow_mlops_provider.exceptions import MlopsConfigError

            raise MlopsConfigError(
                f"canary.inference_logs: {self.source} has no column(s) {missing}; set "
                "version_column / prediction_column (shadow steps: shadow_version_column / "
                "shadow_prediction_column) to the log's names (docs/release.md)"
            )
        return frame
