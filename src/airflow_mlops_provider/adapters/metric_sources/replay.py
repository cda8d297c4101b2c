"""`replay`: metrics of the local router's scored replay for the current step's windows
(for a shadow step: both models on every request of its windows)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.metric_sources import SHADOW_COLUMNS, by_version, shadow_pair

if TYPE_CHECKING:
    from airflow_mlops_provider.core.estimates import ArmEstimate


class ReplaySource:
    def __init__(self, storage: Any, traffic_folder: str, *, threshold: float):
        self.storage = storage
        self.traffic_folder = traffic_folder
        self.threshold = threshold

    def step_folder(self, step: int) -> str:
        return self.storage.join(self.traffic_folder, f"step-{step:02d}")

    def measure(
        self, names: list[str], *, challenger: str, champion: str, step: int, window_seconds: float
    ) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate]]:
        frame = self.storage.read_frame(self.step_folder(step))
        return by_version(
            frame,
            names,
            {"canary": challenger, "champion": champion},
            version_column="model_version",
            label="label",
            threshold=self.threshold,
        )

    def shadow(
        self, names: list[str], *, challenger: str, champion: str, step: int
    ) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate], dict[str, float]]:
        frame = self.storage.read_frame(self.step_folder(step))
        return shadow_pair(
            frame,
            names,
            {"canary": challenger, "champion": champion},
            version_column="model_version",
            shadow_version_column="shadow_version",
            label="label",
            served={"prediction": "prediction", "latency": "latency_ms", "error": "error"},
            shadow=SHADOW_COLUMNS,
            threshold=self.threshold,
        )
