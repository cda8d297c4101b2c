"""BatchSensor (`wait_for_batch`): wait for a batch's marker file before validating it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import WaitSpec

if TYPE_CHECKING:
    from airflow.sdk import Context


class BatchSensor(BaseSensorOperator):
    """Succeed once `<source>/<marker>` (or the source itself) exists — local or S3.

    Runs in reschedule mode: between pokes the task releases its worker slot. After
    `wait.timeout_minutes` it fails (no retries of the wait itself), naming what it waited for.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it): the
        project folder relative paths resolve under, and the S3 connection.
    :param wait: YAML block `data.wait` (`WaitSpec` or dict): marker, poke and timeout
        minutes (`mode`, `poke_interval` and `timeout` given here win).
    :param source: the batch: path, file:// or s3:// URI (templated).
    """

    template_fields = ("source",)
    ui_color = "#f5f5dc"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        wait: WaitSpec | dict[str, Any],
        source: str,
        **kwargs: Any,
    ) -> None:
        wait = as_block(WaitSpec, wait)
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", timedelta(minutes=wait.poke_minutes))
        kwargs.setdefault("timeout", timedelta(minutes=wait.timeout_minutes))
        kwargs.setdefault("soft_fail", False)
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.wait = wait
        self.source = source

    def poke(self, context: Context) -> bool:
        from airflow_mlops_provider.hooks.storage import StorageHook

        storage = StorageHook(self.pipeline.connections.aws).storage(self.pipeline.project_dir)
        marker = self.wait.marker
        target = storage.join(self.source, marker) if marker else storage.resolve(self.source)
        found = storage.exists(target)
        self.log.info("%s %s", "Found" if found else "Waiting for", target)
        return found
