"""`data:` — where a training batch comes from, what the model learns, how it is split."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from airflow_mlops_provider.core.vocabulary import BINARY_CLASSIFICATION, TASKS
from airflow_mlops_provider.spec.base import FileFormat, StrictModel, fail, problem, report

Task = Literal[TASKS]  # type: ignore[valid-type]


class Features(StrictModel):
    """The model's inputs by kind; the kind decides the drift tests and the contract checks."""

    numeric: list[str] = Field(default_factory=list, description="numeric model inputs")
    categorical: list[str] = Field(default_factory=list, description="categorical model inputs")

    @model_validator(mode="after")
    def _not_empty_nor_shared(self) -> Features:
        if not self.numeric and not self.categorical:
            fail("Features", (), "list at least one feature under numeric or categorical")
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            report(
                "Features",
                [problem(("categorical",), f"{both} are also listed as numeric; keep one kind")],
            )
        return self

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


class Split(StrictModel):
    """Time-based split: the newest `holdout_fraction` of rows (by time) is the holdout."""

    time_column: str = Field(description="datetime column that orders the rows")
    holdout_fraction: float = Field(
        0.2, gt=0, lt=1, description="share of the newest rows kept for evaluation"
    )


class WaitSpec(StrictModel):
    """The optional `wait_for_batch` sensor: reschedule mode, so waiting holds no worker slot."""

    marker: str | None = Field(
        "_SUCCESS",
        description="file inside data.source that marks the batch complete; "
        "null: wait for data.source itself",
    )
    timeout_minutes: int = Field(360, ge=1, description="give up (fail the run) after this long")
    poke_minutes: float = Field(5, gt=0, description="how often to look")


class CsvSpec(StrictModel):
    """How CSV parts are written (data.format: csv). Types come from the contract; see
    docs/data.md for the missing-value and date rules."""

    delimiter: str | None = Field(
        None,
        min_length=1,
        max_length=1,
        description="field separator; null: the one of , ; tab | that splits the header "
        "into the most columns",
    )
    quote: str = Field('"', min_length=1, max_length=1, description="quote character")
    encoding: str = Field("utf-8", description="text encoding (a UTF-8 BOM is skipped)")

    @model_validator(mode="after")
    def _usable(self) -> CsvSpec:
        import codecs

        if self.delimiter is not None and self.delimiter in ('"', "\n", "\r", self.quote):
            fail("CsvSpec", ("delimiter",), f"delimiter {self.delimiter!r} cannot separate fields")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            fail(
                "CsvSpec", ("encoding",), f"unknown encoding {self.encoding!r}; e.g. utf-8, latin-1"
            )
        return self


PARQUET_ROW_GROUP_ROWS = 1024 * 1024  # pyarrow's default


class FanoutSpec(StrictModel):
    """Validate and check drift as Airflow mapped tasks, one per slice of the batch, merged by
    one reduce task (docs/data.md, "Fan-out"): for batches one worker should not scan alone."""

    slices: int | None = Field(
        None, ge=2, le=1000, description="how many slices (mapped tasks); null: from slice_rows"
    )
    slice_rows: int = Field(5_000_000, ge=10_000, description="rows per slice when slices is null")

    def planning(self) -> dict[str, int | None]:
        """The keywords of adapters/fanout.plan_slices."""
        return {"slices": self.slices, "slice_rows": self.slice_rows}

    def snapshot_row_group_rows(self, rows: int) -> int | None:
        """Row groups of the training snapshot, so the drift check can cut it into `slices`
        (slices are whole row groups); at most pyarrow's default (None), about 1M rows."""
        if self.slices is None:
            return None
        return max(1, min(PARQUET_ROW_GROUP_ROWS, -(-rows // self.slices)))


class DataSpec(StrictModel):
    """The training batch of one run."""

    source: str = Field(
        description="path, file:// or s3:// URI of the batch (file or folder); "
        "Airflow templates such as {{ ds }} are rendered per run"
    )
    format: FileFormat = Field("parquet", description="parquet or csv")
    csv: CsvSpec | None = Field(None, description="CSV dialect (data.format: csv)")
    task: Task = Field(BINARY_CLASSIFICATION, description="what the model predicts")
    target: str = Field(description="the label column")
    id_column: str | None = Field(
        None, description="row id (replay split, request joins); null: none"
    )
    features: Features = Field(description="model inputs: {numeric: [...], categorical: [...]}")
    split: Split = Field(description="how the batch is split into train and holdout")
    wait: WaitSpec | None = Field(None, description="wait for the batch before validating")
    fanout: FanoutSpec | None = Field(
        None,
        description="validate and check drift as mapped tasks over slices of the batch; "
        "null: one task each",
    )

    @model_validator(mode="after")
    def _csv_only_for_csv(self) -> DataSpec:
        if self.csv is not None and self.format != "csv":
            fail("DataSpec", ("csv",), "data.csv describes CSV files; set format: csv or remove it")
        return self
