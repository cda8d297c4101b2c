"""BatchSensor (`wait_for_batch`): wait for a batch's marker file before validating it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from airflow_mlops_provider.operators.base import PipelineOperatorMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops_provider.spec import PipelineSpec


class BatchSensor(PipelineOperatorMixin, BaseSensorOperator):
    """Succeed once `<data.source>/<marker>` (or the source itself) exists — local or S3.

    Runs in reschedule mode: between pokes the task releases its worker slot. After
    `timeout_minutes` it fails (no retries of the wait itself), naming what it waited for.
    """

    template_fields = ("source",)
    ui_color = "#f5f5dc"

    def __init__(self, *, spec: PipelineSpec, project_dir: str, source: str, **kwargs: Any) -> None:
        wait = spec.data.wait
        assert wait is not None, "BatchSensor needs data.wait"
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", timedelta(minutes=wait.poke_minutes))
        kwargs.setdefault("timeout", timedelta(minutes=wait.timeout_minutes))
        kwargs.setdefault("soft_fail", False)
        super().__init__(**kwargs)
        self.spec = spec
        self.project_dir = project_dir
        self.source = source

    @property
    def target(self) -> str:
        marker = self.spec.data.wait.marker if self.spec.data.wait else None
        return (
            self.storage.join(self.source, marker) if marker else self.storage.resolve(self.source)
        )

    def poke(self, context: Context) -> bool:
        found = self.storage.exists(self.target)
        self.log.info("%s %s", "Found" if found else "Waiting for", self.target)
        return found
