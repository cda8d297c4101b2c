"""ReleaseRetrainRequestOperator: a requested run that failed before training gives its
retrain request back, so the cooldown does not keep a drifted model in service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from airflow_mlops_provider.services.config import PipelineConfig, as_block

if TYPE_CHECKING:
    from airflow.sdk import Context


class ReleaseRetrainRequestOperator(BaseOperator):
    """Emit the release event (this task's outlet) naming the monitoring runs whose retrain
    requests started this run; monitoring's cooldown does not count released requests
    (services/monitoring.py `newest_pending_request`). The factory runs it with trigger rule
    `one_failed` after the steps before training (wait, validate, drift check). Skipped when
    the run was not started by a retrain request.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    """

    ui_color = "#ffd6d6"

    def __init__(self, *, pipeline: PipelineConfig | dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.run_identity import request_extras
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.monitoring import release_requests

        extra = release_requests(
            build_runtime(self.pipeline, context), requests=request_extras(context)
        )
        if extra is None:
            raise AirflowSkipException("this run was not started by a retrain request")
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        return extra
