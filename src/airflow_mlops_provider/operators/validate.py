"""DataValidateOperator: the data gate before any training or monitoring step reads data."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_mlops_provider.operators.base import PipelineOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class DataValidateOperator(PipelineOperator):
    """Check a batch against the YAML contract with Great Expectations; fail closed.

    purpose="training": validates `source`, then writes the immutable snapshot (train/holdout
    split) and returns its manifest. purpose="serving": validates the inference-log window
    pulled from `window_task_id` (no label column) and returns its location and row count.
    """

    template_fields = ("source",)
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
        frame = self.storage.read_frame(location, fmt)
        serving = self.purpose == "serving" and self.spec.monitoring is not None
        checks = checks_from_contract(
            self.spec.contract,
            skip_columns=[self.spec.data.target] if serving else [],
            extra_columns=self.spec.monitoring.log_columns if serving else [],
        )
        result = validate_frame(frame, checks)
        report = self._write_report(context, result, location)
        self.log.info("%s\nReport: %s", result.summary(), report)
        if not result.passed:
            return self._reject(context, result, location, report)
        self.audit(context, "validated", {"source": location, "rows": len(frame)})
        if self.purpose == "serving":
            return {"window_uri": location, "rows": len(frame), "report": report}
        return self._snapshot(frame, location, report)

    def _location(self, context: Context) -> tuple[str, str]:
        if self.purpose == "serving":
            window = context["ti"].xcom_pull(task_ids=self.window_task_id)
            return window["window_uri"], "parquet"
        return self.storage.resolve(self.source), self.spec.data.format

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
        from airflow_mlops_provider.exceptions import DataValidationError

        failed = [c.check.describe() for c in result.failures()]
        self.audit(
            context, "rejected_data", {"source": location, "failed": failed, "report": report}
        )
        self.notify(
            f":no_entry: {self.spec.pipeline}: batch {location} failed validation "
            f"({len(failed)} checks). Report: {report}"
        )
        raise DataValidationError(
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
