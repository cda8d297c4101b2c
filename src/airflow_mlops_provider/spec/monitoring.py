"""`monitoring:` — the serving side: windows of inference logs tested for drift, live
performance once labels arrive, and the daily health report."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.spec.base import (
    FileFormat,
    Schedule,
    StrictModel,
    check_schedule,
    fail,
    problem,
    report,
)
from airflow_mlops_provider.spec.evaluation import MetricName


class PerformanceSpec(StrictModel):
    """Live performance: the bound the metric on labelled serving traffic must keep.

    Below `min` (above `max` for lower-is-better metrics) is decay: the same retrain request
    and alert as drift. Fewer than `min_labelled_rows` joined labels are not judged at all:
    a metric on a handful of rows is noise, not an incident."""

    metric: MetricName = Field(description="one of evaluation's metric names for data.task")
    min: float | None = Field(None, description="decay when the live metric is below this")
    max: float | None = Field(None, description="decay when above this (log_loss, rmse, mae)")
    min_labelled_rows: int = Field(
        200, ge=1, description="labelled requests needed before the metric is judged"
    )

    @model_validator(mode="after")
    def _one_bound(self) -> PerformanceSpec:
        if (self.min is None) == (self.max is None):
            fail(
                "PerformanceSpec",
                (),
                f"give exactly one of min or max for {self.metric} (min for metrics where "
                "higher is better, max for log_loss, rmse, mae)",
            )
        return self


class MonitoringSpec(StrictModel):
    """The `<pipeline>__monitoring` and `<pipeline>__health` DAGs; absent: neither exists."""

    schedule: Schedule = Field("@daily", description="Airflow preset (@daily) or cron, or null")
    source: str = Field(
        description="inference-log partition for the run (templated like data.source; rendered "
        "for every day of the run's data interval)"
    )
    format: FileFormat = Field("parquet", description="parquet or csv")
    cooldown_hours: float = Field(
        24,
        ge=0,
        description="after a retrain request, drift or decay only alerts for this long (0: off)",
    )
    log_columns: list[str] = Field(
        default_factory=lambda: ["request_id"],
        description="columns the logs carry besides the contract's",
    )
    id_column: str = Field(
        "request_id", description="request id in the logs and the labels (the join key)"
    )
    labels: str | None = Field(
        None,
        description="ground truth that arrives after serving (templated): id_column and "
        "data.target for some of the requests of the run's window; null: no live performance",
    )
    performance: PerformanceSpec | None = Field(
        None, description="alert and request retraining when the live metric decays"
    )
    health_schedule: Schedule = Field(
        "@daily", description="schedule of the <pipeline>__health report DAG (null: manual)"
    )
    prediction_column: str = Field(
        "prediction",
        description="column of the window holding the champion's outputs; tested for "
        "prediction drift against the training-time prediction distribution",
    )

    _schedule = field_validator("schedule", "health_schedule")(check_schedule)

    @model_validator(mode="after")
    def _labels_join(self) -> MonitoringSpec:
        found = []
        if self.performance is not None and self.labels is None:
            found.append(
                problem(
                    ("performance",),
                    "monitoring.performance needs monitoring.labels (where the ground truth "
                    "arrives, e.g. include/data/labels/dt={{ ds }})",
                )
            )
        if self.labels is not None and self.id_column not in self.log_columns:
            found.append(
                problem(
                    ("id_column",),
                    f"{self.id_column!r} joins logs and labels, so the logs must carry it: "
                    f"add it to monitoring.log_columns ({self.log_columns})",
                )
            )
        report("MonitoringSpec", found)
        return self
