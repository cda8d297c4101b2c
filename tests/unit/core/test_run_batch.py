"""Which batch a run works on, for every way a run starts (core/run_batch.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_mlops_provider.core.run_batch import BatchError, resolve_batch

LOGICAL = datetime(2026, 11, 1, tzinfo=UTC)
CREATED = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)


def test_scheduled_and_backfill_runs_train_on_their_logical_date() -> None:
    found = resolve_batch(param=None, requests=[], logical_date=LOGICAL, run_after=LOGICAL)
    assert (found.batch, found.origin) == ("2026-11-01", "the run's logical date")
    assert found.template_values() == {
        "batch": "2026-11-01",
        "ds": "2026-11-01",
        "ds_nodash": "20261101",
    }


def test_a_manual_run_names_its_batch_with_the_param() -> None:
    found = resolve_batch(param="2026-11-08", requests=[], logical_date=CREATED, run_after=CREATED)
    assert (found.batch, found.origin) == ("2026-11-08", "the `batch` param")


def test_an_asset_triggered_run_trains_on_the_newest_request_naming_a_batch() -> None:
    requests = [
        {"batch": "2026-11-01", "source_run_id": "monitoring__a"},
        {"batch": "2026-11-08", "source_run_id": "monitoring__b"},
        {"reason": "an older request without a batch"},
    ]
    found = resolve_batch(param=None, requests=requests, logical_date=None, run_after=CREATED)
    assert found.batch == "2026-11-08"
    assert found.origin == "the retrain request of monitoring__b"


def test_without_anything_else_the_run_after_day() -> None:
    found = resolve_batch(param="", requests=[{}], logical_date=None, run_after=CREATED)
    assert (found.batch, found.origin) == ("2026-12-01", "the time the run was created for")


@pytest.mark.parametrize(
    ("param", "requests", "message"),
    [
        ("11/08/2026", [], "'11/08/2026' from the run's `batch` param is not a day"),
        ("2026-02-30", [], "'2026-02-30' from the run's `batch` param is not a calendar day"),
        (None, [{"batch": "latest"}], "'latest' from the retrain request of an Asset event"),
    ],
)
def test_a_batch_that_is_not_a_day_is_named_with_its_origin(param, requests, message) -> None:
    with pytest.raises(BatchError, match=message):
        resolve_batch(param=param, requests=requests, logical_date=LOGICAL, run_after=LOGICAL)


def test_a_run_with_nothing_to_go_by_says_how_to_trigger_it() -> None:
    with pytest.raises(BatchError, match='params {"batch": "YYYY-MM-DD"}'):
        resolve_batch(param=None, requests=[], logical_date=None, run_after=None)
