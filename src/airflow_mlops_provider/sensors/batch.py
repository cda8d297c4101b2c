"""BatchSensor (`wait_for_batch`): wait for a batch's marker file before validating it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mlops_provider.operators.run_identity import BatchTemplated
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import WaitSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

TRIGGER_HINT = 'trigger the DAG with params {"batch": "YYYY-MM-DD"} naming a batch that exists'


class BatchSensor(BatchTemplated, BaseSensorOperator):
    """Succeed once `<source>/<marker>` (or the source itself) exists — local or S3.

    Only a scheduled run waits: its batch may still be arriving. It waits in reschedule mode
    (no worker slot between pokes) up to `wait.timeout_minutes`, then fails naming what it
    waited for — and it stops waiting at once, skipped, when another run of the DAG is queued
    behind it, so the unpause tick or a late batch never holds `max_active_runs` against a
    person's or a retrain request's run. Manual, asset-triggered and backfill runs name a
    batch that should be there: one look, then a clear failure (no retries) saying how to
    trigger a run for an existing batch. `source` renders from the run's batch
    (operators/run_identity.py).

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
        if storage.exists(target):
            self.log.info("Found %s", target)
            return True
        dag_run = context["dag_run"]
        if dag_run.run_type != "scheduled":
            raise AirflowFailException(
                f"No batch at {target}: a {dag_run.run_type} run does not wait for data; "
                f"{TRIGGER_HINT}"
            )
        queued = context["ti"].get_dr_count(dag_id=dag_run.dag_id, states=["queued"])
        if queued:
            raise AirflowSkipException(
                f"{target} is not there yet and {queued} queued run(s) of this DAG need its "
                "slot: this scheduled run stops waiting; nothing is trained for its batch"
            )
        self.log.info("Waiting for %s", target)
        return False
