"""Contract checks run by Great Expectations on small frames (adapters/great_expectations.py).

Each broken frame must fail exactly the check that names its cause, with a readable summary.
GX is imported once for the module (the import costs seconds; each validation ~0.05 s).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core.contract import ValidationResult, checks_from_contract
from airflow_mlops_provider.spec import (
    ColumnRule,
    ContractSpec,
    FreshnessRule,
    NoFutureTimestamps,
    UniqueKey,
)

pytestmark = pytest.mark.integration

CONTRACT = ContractSpec(
    columns={
        "customer_id": ColumnRule(type="str"),
        "tenure_months": ColumnRule(type="int", min=0, max=72),
        "monthly_charges": ColumnRule(type="float", min=0.0, max=500.0),
        "discount": ColumnRule(type="float", required=False),
        "plan": ColumnRule(type="str", allowed=["basic", "pro", "team"]),
        "signup": ColumnRule(type="datetime"),
        "churned": ColumnRule(type="bool"),
    },
    min_rows=3,
    max_rows=1000,
)
CHECKS = checks_from_contract(CONTRACT)


@pytest.fixture(scope="module")
def validate():
    pytest.importorskip("great_expectations")
    from airflow_mlops_provider.adapters.great_expectations import validate_frame

    return validate_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "tenure_months": [0, 12, 24, 60, 72],
            "monthly_charges": [20.0, 35.5, 70.25, 99.0, 120.0],
            "discount": [0.0, np.nan, 0.1, np.nan, 0.2],  # optional: NaN allowed
            "plan": ["basic", "pro", "team", "pro", "basic"],
            "signup": pd.to_datetime(
                ["2023-01-05", "2023-02-10", "2023-03-15", "2023-04-20", "2023-05-25"]
            ),
            "churned": [False, True, False, False, True],
        }
    )


def _failed(result: ValidationResult) -> list[tuple[str, str | None]]:
    return [(r.check.rule, r.check.column) for r in result.failures()]


def _only_failure(result: ValidationResult, rule: str, column: str | None):
    assert not result.passed
    assert _failed(result) == [(rule, column)], result.summary()
    return result.failures()[0]


def test_valid_frame_passes_every_check(validate, frame):
    result = validate(frame, CHECKS)
    assert result.passed, result.summary()
    assert len(result.results) == len(CHECKS)
    assert all(r.success for r in result.results)
    assert [r.check for r in result.results] == CHECKS  # one result per check, in check order
    assert result.row_count == 5
    assert result.summary() == f"all {len(CHECKS)} checks passed on 5 rows"
    json.dumps(result.to_dict())


def test_missing_column_fails_once_and_its_other_checks_are_not_run(validate, frame):
    result = validate(frame.drop(columns=["plan"]), CHECKS)
    failure = _only_failure(result, "column_exists", "plan")
    assert failure.observed == "column missing"
    assert {(r.check.rule, r.check.column) for r in result.skipped()} == {
        ("column_type", "plan"),
        ("not_null", "plan"),
        ("in_set", "plan"),
    }
    assert all(r.observed == "not run: column plan is missing" for r in result.skipped())
    assert "column plan exists: column missing" in result.summary()
    assert result.summary().startswith(
        f"1 of {len(CHECKS)} checks failed on 5 rows (3 more not run because of them):"
    )


def test_extra_column_fails_when_not_allowed(validate, frame):
    result = validate(frame.assign(debug_flag=1), CHECKS)
    failure = _only_failure(result, "no_extra_columns", None)
    assert failure.observed == "extra columns: debug_flag"
    assert "extra columns: debug_flag" in result.summary()


def test_extra_column_passes_when_allowed(validate, frame):
    contract = CONTRACT.model_copy(update={"allow_extra_columns": True})
    assert validate(frame.assign(debug_flag=1), checks_from_contract(contract)).passed


def test_missing_and_extra_column_each_fail_once(validate, frame):
    result = validate(frame.drop(columns=["plan"]).assign(debug_flag=1), CHECKS)
    assert _failed(result) == [("no_extra_columns", None), ("column_exists", "plan")]


def test_int_column_arriving_as_str_fails_on_its_type_only(validate, frame):
    result = validate(frame.assign(tenure_months=frame["tenure_months"].astype(str)), CHECKS)
    failure = _only_failure(result, "column_type", "tenure_months")
    assert failure.observed == "dtype str"
    assert [(r.check.rule, r.check.column) for r in result.skipped()] == [
        ("between", "tenure_months")
    ]
    assert "tenure_months is int: dtype str" in result.summary()


def test_nulls_in_a_required_column(validate, frame):
    result = validate(frame.assign(plan=["basic", None, "pro", None, "team"]), CHECKS)
    failure = _only_failure(result, "not_null", "plan")
    assert failure.unexpected_count == 2
    assert "plan has no missing values: 2 of 5 rows missing" in result.summary()


def test_nan_in_a_required_float_column(validate, frame):
    result = validate(frame.assign(monthly_charges=[20.0, np.nan, 70.0, 99.0, 120.0]), CHECKS)
    assert _only_failure(result, "not_null", "monthly_charges").unexpected_count == 1


def test_inf_in_a_float_column(validate, frame):
    result = validate(frame.assign(discount=[0.0, np.nan, np.inf, 0.1, 0.2]), CHECKS)
    failure = _only_failure(result, "finite", "discount")
    assert failure.unexpected_examples == ("inf",)
    assert "discount has no infinite values: 1 of 5 rows infinite (e.g. inf)" in result.summary()


def test_nan_and_inf_in_a_float_column_are_two_causes(validate, frame):
    result = validate(frame.assign(monthly_charges=[20.0, np.nan, np.inf, 99.0, 120.0]), CHECKS)
    # inf is also above max=500: that bound is a third, honest failure
    assert _failed(result) == [
        ("not_null", "monthly_charges"),
        ("between", "monthly_charges"),
        ("finite", "monthly_charges"),
    ]


def test_out_of_range_values(validate, frame):
    result = validate(frame.assign(tenure_months=[0, -1, 24, 99, 72]), CHECKS)
    failure = _only_failure(result, "between", "tenure_months")
    assert failure.unexpected_count == 2
    assert set(failure.unexpected_examples) == {"-1", "99"}
    assert "tenure_months between 0 and 72: 2 of 5 rows out of range" in result.summary()


def test_unseen_category(validate, frame):
    result = validate(frame.assign(plan=["basic", "gold", "pro", "gold", "team"]), CHECKS)
    failure = _only_failure(result, "in_set", "plan")
    assert (failure.unexpected_count, failure.unexpected_examples) == (2, ("'gold'",))
    assert (
        "plan in {'basic', 'pro', 'team'}: 2 of 5 rows not in the allowed set (e.g. 'gold')"
        in result.summary()
    )


def test_too_few_rows(validate, frame):
    result = validate(frame.head(2), CHECKS)
    assert _only_failure(result, "row_count", None).observed == "2 rows"
    assert "row count between 3 and 1000: 2 rows" in result.summary()


def test_empty_frame(validate, frame):
    result = validate(frame.head(0), CHECKS)
    assert _only_failure(result, "row_count", None).observed == "0 rows"
    assert result.row_count == 0


def test_serving_data_without_the_label(validate, frame):
    checks = checks_from_contract(CONTRACT, skip_columns=["churned"])
    assert validate(frame.drop(columns=["churned"]), checks).passed


def test_other_pandas_dtypes_fit_their_contract_types(validate, frame):
    result = validate(
        frame.astype(
            {
                "customer_id": "string",
                "tenure_months": "Int64",
                "monthly_charges": "Float64",
                "churned": "boolean",
                "signup": "datetime64[s]",
            }
        ),
        CHECKS,
    )
    assert result.passed, result.summary()
    aware = frame.assign(
        signup=frame["signup"].dt.tz_localize("UTC"),
        customer_id=frame["customer_id"].astype(object),
        monthly_charges=[20, 35, 70, 99, 120],
    )  # ints are valid floats
    assert validate(aware, CHECKS).passed


def test_object_column_values_are_checked_one_by_one(validate, frame):
    mixed = pd.Series(["c1", 2, "c3", "c4", "c5"], dtype=object)
    result = validate(frame.assign(customer_id=mixed), CHECKS)
    failure = _only_failure(result, "column_type", "customer_id")
    assert failure.observed == "dtype object, 1 of 5 rows not str"
    assert failure.unexpected_examples == ("2",)


def test_adapter_module_does_not_import_gx_at_import_time():
    code = (
        "import sys, airflow_mlops_provider.adapters.great_expectations\n"
        "assert 'great_expectations' not in sys.modules\n"
        "assert 'pandas' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- quality rules: uniqueness, pattern, null share, time, severity -------------------------------

NOW = dt.datetime(2023, 5, 26, 12, 0, tzinfo=dt.UTC)  # a day after the fixture's latest signup
QUALITY = CONTRACT.model_copy(
    update={
        "columns": {
            **CONTRACT.columns,
            "customer_id": ColumnRule(type="str", unique=True, pattern=r"^c\d+$"),
            "discount": ColumnRule(type="float", max_null_fraction=0.4),
        },
        "unique_keys": [UniqueKey(columns=["plan", "tenure_months"])],
        "freshness": FreshnessRule(column="signup", max_age_hours=48),
        "no_future_timestamps": NoFutureTimestamps(tolerance_minutes=5),
    }
)
QUALITY_CHECKS = checks_from_contract(QUALITY)


def test_valid_frame_passes_the_quality_rules(validate, frame):
    result = validate(frame, QUALITY_CHECKS, now=NOW)
    assert result.passed, result.summary()
    assert all(r.success for r in result.results)
    rules = {r.check.rule for r in result.results}
    assert {"unique", "pattern", "null_fraction", "unique_key", "freshness", "no_future"} <= rules


def test_duplicated_values_in_a_unique_column(validate, frame):
    result = validate(
        frame.assign(customer_id=["c1", "c2", "c2", "c4", "c5"]), QUALITY_CHECKS, now=NOW
    )
    failure = _only_failure(result, "unique", "customer_id")
    assert (failure.unexpected_count, failure.unexpected_examples) == (2, ("'c2'",))
    assert "customer_id values are unique: 2 of 5 rows duplicated (e.g. 'c2')" in result.summary()


def test_values_not_matching_the_pattern(validate, frame):
    result = validate(
        frame.assign(customer_id=["c1", "C2", "c3", "x", "c5"]), QUALITY_CHECKS, now=NOW
    )
    failure = _only_failure(result, "pattern", "customer_id")
    assert set(failure.unexpected_examples) == {"'C2'", "'x'"}
    assert "customer_id matches ^c\\d+$: 2 of 5 rows not matching" in result.summary()


def test_too_many_nulls_for_max_null_fraction(validate, frame):
    tolerated = frame.assign(discount=[0.0, np.nan, 0.1, np.nan, 0.2])  # 40%: at the limit
    assert validate(tolerated, QUALITY_CHECKS, now=NOW).passed
    result = validate(
        frame.assign(discount=[np.nan, np.nan, 0.1, np.nan, 0.2]), QUALITY_CHECKS, now=NOW
    )
    failure = _only_failure(result, "null_fraction", "discount")
    assert failure.observed == "3 of 5 rows missing (60.0%)"
    assert "discount has at most 40% missing values" in result.summary()


def test_stale_data_fails_freshness(validate, frame):
    later = NOW + dt.timedelta(days=3)
    result = validate(frame, QUALITY_CHECKS, now=later)
    failure = _only_failure(result, "freshness", "signup")
    assert failure.observed == "latest 2023-05-25 00:00:00 (108.0 hours old)"
    assert "latest signup at most 48 hours old" in result.summary()


def test_freshness_compares_aware_columns_in_their_zone(validate, frame):
    aware = frame.assign(signup=frame["signup"].dt.tz_localize("Europe/Paris"))
    assert validate(aware, QUALITY_CHECKS, now=NOW).passed
    naive_now = NOW.replace(tzinfo=None)  # naive means UTC
    assert validate(frame, QUALITY_CHECKS, now=naive_now).passed


def test_future_timestamps(validate, frame):
    future = pd.to_datetime(["2023-01-05", "2023-02-10", "2023-03-15", "2023-05-25", "2031-01-01"])
    result = validate(frame.assign(signup=future), QUALITY_CHECKS, now=NOW)
    failure = _only_failure(result, "no_future", "signup")
    assert (failure.unexpected_count, failure.unexpected_examples) == (1, ("2031-01-01 00:00:00",))
    assert "signup not later than now + 5 minutes: 1 of 5 rows in the future" in result.summary()


def test_duplicated_compound_key(validate, frame):
    result = validate(frame.assign(tenure_months=[0, 12, 24, 12, 72]), QUALITY_CHECKS, now=NOW)
    failure = _only_failure(result, "unique_key", None)
    assert (failure.unexpected_count, failure.unexpected_examples) == (2, ("('pro', 12)",))
    assert "(plan, tenure_months) is unique: 2 of 5 rows with a duplicated key" in result.summary()


def test_compound_key_with_a_missing_column_is_not_run(validate, frame):
    result = validate(frame.drop(columns=["plan"]), QUALITY_CHECKS, now=NOW)
    assert _failed(result) == [("column_exists", "plan")]
    skipped = {(r.check.rule, r.check.column): r.observed for r in result.skipped()}
    assert skipped[("unique_key", None)] == "not run: column plan is missing"


def test_warn_severity_reports_without_failing_the_gate(validate, frame):
    contract = QUALITY.model_copy(
        update={
            "columns": {
                **QUALITY.columns,
                "customer_id": ColumnRule(type="str", unique=True, severity="warn"),
            }
        }
    )
    result = validate(
        frame.assign(customer_id=["c1", "c1", "c3", "c4", "c5"]),
        checks_from_contract(contract),
        now=NOW,
    )
    assert result.passed, result.summary()
    assert _failed(result) == [("unique", "customer_id")]
    assert result.failures()[0].check.severity == "warning"
    assert "1 warning" in result.summary()
    assert "[warning] customer_id values are unique: 2 of 5 rows duplicated" in result.summary()
    assert result.to_dict()["passed"] is True


def test_time_rules_on_a_column_without_values(validate, frame):
    contract = QUALITY.model_copy(
        update={
            "columns": {**QUALITY.columns, "signup": ColumnRule(type="datetime", required=False)}
        }
    )
    empty = frame.assign(signup=pd.to_datetime([None] * 5))
    result = validate(empty, checks_from_contract(contract), now=NOW)
    # nothing dates the batch: stale; nothing lies in the future either
    assert _only_failure(result, "freshness", "signup").observed == "no values to date the data by"
    future = next(r for r in result.results if r.check.rule == "no_future")
    assert (future.success, future.observed) == (True, "no values to check")


@pytest.mark.timeout(300)  # a liveness bound: Python's re would not finish on this value
def test_a_crafted_value_cannot_stall_the_pattern_check(validate, frame):
    nested = QUALITY.model_copy(
        update={
            "columns": {**QUALITY.columns, "plan": ColumnRule(type="str", pattern=r"^(\w+-?)+$")}
        }
    )
    crafted = "team" * 2_000 + "!"  # exponential for a backtracking engine, linear for RE2
    result = validate(
        frame.assign(plan=["basic", "pro", crafted, "pro-x", "basic"]),
        checks_from_contract(nested),
        now=NOW,
    )
    failure = _only_failure(result, "pattern", "plan")
    assert failure.unexpected_count == 1
