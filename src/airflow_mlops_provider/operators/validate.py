"""DataValidateOperator: the data gate before any training or monitoring step reads data."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops_provider.exceptions import DataValidationError
from airflow_mlops_provider.links import ValidationReportLink
from airflow_mlops_provider.operators.base import PipelineOperator
from airflow_mlops_provider.operators.monitoring import prediction_column
from airflow_mlops_provider.run_note import note_decision

if TYPE_CHECKING:
    from airflow.sdk import Context


class BatchRejected(DataValidationError, AirflowFailException):
    """Bad data does not get better on retry: fail the task at once, skipping its retries;
    clearing the task after a fix validates the batch again."""


class DataValidateOperator(PipelineOperator):
    """Check a batch against the YAML contract with Great Expectations; fail closed.

    purpose="training": validates `source`, then writes the immutable snapshot (train/holdout
    split) and returns its manifest. purpose="serving": validates the inference-log window
    pulled from `window_task_id` (no label column) and returns its location and row count.
    """

    template_fields = ("source",)
    operator_extra_links = (ValidationReportLink(),)
    ui_color = "#d7f5dd"

    def __init__(
        self,
        *,
        source: str | None = None,
        purpose: str = "training",
        window_task_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.purpose = purpose
        self.window_task_id = window_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.adapters.great_expectations import validate_frame
        from airflow_mlops_provider.core.contract import checks_from_contract

        location, fmt = self._location(context)
        frame = self._read(context, location, fmt)
        serving = self.purpose == "serving" and self.spec.monitoring is not None
        checks = checks_from_contract(
            self.spec.contract,
            skip_columns=[self.spec.data.target] if serving else [],
            extra_columns=[*self.spec.monitoring.log_columns, prediction_column(self.spec)]
            if serving
            else [],
        )
        # Freshness is judged as of the run's data interval, so a backfill is not "stale".
        result = validate_frame(frame, checks, now=context.get("data_interval_end"))
        report = self._write_report(context, result, location)
        context["ti"].xcom_push(key=ValidationReportLink.xcom_key, value=report)
        self.log.info("%s\nReport: %s", result.summary(), report)
        if not result.passed:
            self._quarantine(context, frame, location, f"{result.summary()}\nReport: {report}")
            self._reject(context, result, location, report)
        self.audit(context, "validated", {"source": location, "rows": len(frame)})
        if self.purpose == "serving":
            return {"window_uri": location, "rows": len(frame), "report": report}
        manifest = self._snapshot(frame, location, report)
        for outlet in self.outlets:  # the validated-batch Asset, for data-aware consumers
            context["outlet_events"][outlet].extra = {
                k: manifest[k] for k in ("snapshot_id", "rows", "train_uri", "holdout_uri")
            }
        return manifest

    def _read(self, context: Context, location: str, fmt: str) -> Any:
        """Read the batch; an unreadable one (missing, empty, corrupt, no permission) is
        rejected like a contract failure: audited, alerted, nothing downstream runs."""
        try:
            return self.storage.read_frame(location, fmt)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            reason = f"cannot read the batch: {type(exc).__name__}: {exc}"
        self._quarantine(context, None, location, reason)
        self.audit(context, "rejected_data", {"source": location, "failed": [reason]})
        note_decision(context, f"Batch {location} rejected: {reason}")
        self.notify(f":no_entry: {self.spec.pipeline}: batch {location} rejected: {reason}")
        raise BatchRejected(f"batch {location} rejected; nothing downstream runs.\n{reason}")

    def _quarantine(self, context: Context, frame: Any, location: str, why: str) -> None:
        """Keep the rejected batch (as read) and why, under quarantine/<dag>/<run>/. The source
        is never touched: after a fix, clearing this task validates it again."""
        folder = self.storage.join(
            self.pipeline_root, "quarantine", *self.run_folder(context).split("/")[-2:]
        )
        if frame is not None:
            self.storage.write_frame(frame, self.storage.join(folder, "batch.parquet"))
        record = {"source": location, "task_id": self.task_id, "why": why}
        self.storage.write_text(self.storage.join(folder, "reason.json"), json.dumps(record))
        self.log.warning("Batch quarantined in %s", folder)

    def _location(self, context: Context) -> tuple[str, str]:
        if self.purpose == "serving":
            window = context["ti"].xcom_pull(task_ids=self.window_task_id)
            return window["window_uri"], "parquet"
        from airflow_mlops_provider.exceptions import PathNotAllowedError

        try:
            return self.storage.resolve(self.source), self.spec.data.format
        except PathNotAllowedError as exc:  # configuration, not data: a retry cannot help
            raise AirflowFailException(str(exc)) from None

    def _write_report(self, context: Context, result: Any, location: str) -> str:
        from airflow_mlops_provider.core.contract import render_validation_html

        folder = self.storage.join(self.run_folder(context), self.task_id)
        self.storage.write_text(
            self.storage.join(folder, "validation.json"),
            json.dumps(result.to_dict(), indent=2, default=str),
        )
        html = render_validation_html(
            result, title=f"{self.spec.pipeline}: data validation", source=location
        )
        return self.storage.write_text(self.storage.join(folder, "validation.html"), html)

    def _reject(self, context: Context, result: Any, location: str, report: str) -> NoReturn:
        failed = [c.check.describe() for c in result.failures()]
        note_decision(context, f"Batch {location} rejected: {result.summary()}")
        self.audit(
            context, "rejected_data", {"source": location, "failed": failed, "report": report}
        )
        self.notify(
            f":no_entry: {self.spec.pipeline}: batch {location} failed validation "
            f"({len(failed)} checks). Report: {report}"
        )
        raise BatchRejected(
            f"batch {location} failed its contract; nothing downstream "
            f"runs.\n{result.summary()}\nReport: {report}"
        )

    def _snapshot(self, frame: Any, location: str, report: str) -> dict[str, Any]:
        from airflow_mlops_provider.adapters.snapshots import write_snapshot

        split = self.spec.data.split
        manifest = write_snapshot(
            self.storage,
            frame,
            pipeline_root=self.pipeline_root,
            source=location,
            source_files=self.storage.files(location, self.spec.data.format),
            time_column=split.time_column,
            holdout_fraction=split.holdout_fraction,
        )
        self.log.info(
            "Snapshot %s: %s train rows, %s holdout rows",
            manifest["snapshot_id"],
            manifest["train_rows"],
            manifest["holdout_rows"],
        )
        return {**manifest, "report": report}
