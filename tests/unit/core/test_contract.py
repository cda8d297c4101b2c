"""Tests for contract → checks, results and reports (core/contract.py). No GX, no pandas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_mlops_provider.core.contract import (
    Check,
    CheckResult,
    ValidationResult,
    checks_from_contract,
    dtype_fits,
    examples,
    render_validation_html,
    skip_result,
)
from airflow_mlops_provider.spec import ColumnRule, ContractSpec


def _contract(**overrides) -> ContractSpec:
    values = {
        "columns": {
            "customer_id": ColumnRule(type="str"),
            "tenure_months": ColumnRule(type="int", min=0, max=72),
            "monthly_charges": ColumnRule(type="float", min=0.0),
            "discount": ColumnRule(type="float", required=False),
            "plan": ColumnRule(type="str", allowed=["basic", "pro"]),
            "churned": ColumnRule(type="bool"),
        },
        "min_rows": 3,
        "max_rows": 1000,
    }
    values.update(overrides)
    return ContractSpec(**values)


def _keys(checks: list[Check]) -> list[tuple[str, str | None]]:
    return [(c.rule, c.column) for c in checks]


# -- contract → checks ---------------------------------------------------------------------------


def test_checks_from_contract_in_stable_order():
    assert _keys(checks_from_contract(_contract())) == [
        ("row_count", None),
        ("no_extra_columns", None),
        ("column_exists", "customer_id"),
        ("column_type", "customer_id"),
        ("not_null", "customer_id"),
        ("column_exists", "tenure_months"),
        ("column_type", "tenure_months"),
        ("not_null", "tenure_months"),
        ("between", "tenure_months"),
        ("column_exists", "monthly_charges"),
        ("column_type", "monthly_charges"),
        ("not_null", "monthly_charges"),
        ("between", "monthly_charges"),
        ("finite", "monthly_charges"),
        ("column_exists", "discount"),
        ("column_type", "discount"),
        ("finite", "discount"),
        ("column_exists", "plan"),
        ("column_type", "plan"),
        ("not_null", "plan"),
        ("in_set", "plan"),
        ("column_exists", "churned"),
        ("column_type", "churned"),
        ("not_null", "churned"),
    ]


def test_check_params_are_json_and_carry_the_rule():
    checks = {(c.rule, c.column): c for c in checks_from_contract(_contract())}
    assert checks[("row_count", None)].params == {"min": 3, "max": 1000}
    assert checks[("no_extra_columns", None)].params["columns"] == sorted(_contract().columns)
    assert checks[("column_type", "tenure_months")].params == {"type": "int"}
    assert checks[("between", "tenure_months")].params == {"min": 0.0, "max": 72.0}
    assert checks[("between", "monthly_charges")].params == {"min": 0.0, "max": None}
    assert checks[("in_set", "plan")].params == {"values": ["basic", "pro"]}
    json.dumps([c.to_dict() for c in checks.values()])
    assert all(c.severity == "error" for c in checks.values())


def test_allow_extra_columns_drops_the_extra_column_check():
    assert ("no_extra_columns", None) not in _keys(
        checks_from_contract(_contract(allow_extra_columns=True))
    )


def test_skip_columns_leaves_out_every_check_of_that_column():
    checks = checks_from_contract(_contract(), skip_columns=["churned"])
    assert not [c for c in checks if c.column == "churned"]
    # still tolerated when present: it stays in the contract's column set
    extra = next(c for c in checks if c.rule == "no_extra_columns")
    assert "churned" in extra.params["columns"]


def test_skip_columns_must_name_contract_columns():
    with pytest.raises(ValueError, match="churn_flag"):
        checks_from_contract(_contract(), skip_columns=["churn_flag"])


@pytest.mark.parametrize(
    ("check", "text"),
    [
        (
            Check("between", "tenure_months", {"min": 0.0, "max": 72.0}),
            "tenure_months between 0 and 72",
        ),
        (Check("between", "x", {"min": 0.5, "max": None}), "x >= 0.5"),
        (Check("between", "x", {"min": None, "max": 1e20}), "x <= 1e+20"),
        (Check("column_exists", "plan", {}), "column plan exists"),
        (Check("column_type", "plan", {"type": "str"}), "plan is str"),
        (Check("not_null", "plan", {}), "plan has no missing values"),
        (Check("finite", "x", {}), "x has no infinite values"),
        (Check("in_set", "plan", {"values": ["basic", "pro"]}), "plan in {'basic', 'pro'}"),
        (
            Check("in_set", "n", {"values": list(range(12))}),
            "n in {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... (+2 more)}",
        ),
        (Check("row_count", None, {"min": 1, "max": None}), "at least 1 row"),
        (Check("row_count", None, {"min": 3, "max": 1000}), "row count between 3 and 1000"),
        (
            Check("no_extra_columns", None, {"columns": ["a", "b"]}),
            "no columns beyond the contract's 2",
        ),
    ],
)
def test_describe(check, text):
    assert check.describe() == text


def test_check_rejects_unknown_rules_and_misplaced_columns():
    with pytest.raises(ValueError, match="unknown check rule"):
        Check("positive", "x", {})
    with pytest.raises(ValueError, match="needs a column"):
        Check("not_null", None, {})
    with pytest.raises(ValueError, match="column must be None"):
        Check("row_count", "x", {})
    with pytest.raises(ValueError, match="severity"):
        Check("not_null", "x", {}, severity="fatal")


def test_check_is_hashable_despite_dict_params():
    assert len({Check("not_null", "x", {}), Check("not_null", "x", {})}) == 1


# -- dtype names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("contract_type", "dtype", "fits"),
    [
        ("int", "int64", True),
        ("int", "int8", True),
        ("int", "uint32", True),
        ("int", "Int64", True),
        ("int", "int64[pyarrow]", True),
        ("int", "float64", False),
        ("int", "str", False),
        ("int", "object", False),
        ("float", "float64", True),
        ("float", "float32", True),
        ("float", "Float64", True),
        ("float", "double[pyarrow]", True),
        ("float", "int64", True),
        ("float", "Int32", True),
        ("float", "str", False),
        ("float", "bool", False),
        ("str", "str", True),
        ("str", "string", True),
        ("str", "large_string[pyarrow]", True),
        ("str", "object", False),
        ("str", "category", False),
        ("str", "int64", False),
        ("bool", "bool", True),
        ("bool", "boolean", True),
        ("bool", "bool[pyarrow]", True),
        ("bool", "int64", False),
        ("datetime", "datetime64[ns]", True),
        ("datetime", "datetime64[us]", True),
        ("datetime", "datetime64[s]", True),
        ("datetime", "datetime64[us, UTC]", True),
        ("datetime", "datetime64[ns, Europe/Berlin]", True),
        ("datetime", "timestamp[us, tz=UTC][pyarrow]", True),
        ("datetime", "str", False),
        ("datetime", "timedelta64[ns]", False),
    ],
)
def test_dtype_fits(contract_type, dtype, fits):
    assert dtype_fits(contract_type, dtype) is fits


def test_dtype_fits_rejects_unknown_type():
    with pytest.raises(ValueError, match="unknown contract type"):
        dtype_fits("decimal", "float64")


# -- results ---------------------------------------------------------------------------------------


def _result(*results: CheckResult, rows: int = 13) -> ValidationResult:
    return ValidationResult(results=results, row_count=rows)


TENURE = Check("between", "tenure_months", {"min": 0.0, "max": 72.0})
PLAN_EXISTS = Check("column_exists", "plan", {})
PLAN_IN_SET = Check("in_set", "plan", {"values": ["basic", "pro"]})
ROWS = Check("row_count", None, {"min": 1, "max": None})


def test_all_passed():
    result = _result(CheckResult(ROWS, True, "13 rows"), CheckResult(TENURE, True, "0 of 13 rows"))
    assert result.passed
    assert result.failures() == []
    assert result.summary() == "all 2 checks passed on 13 rows"


def test_failures_and_summary_name_each_cause_once():
    result = _result(
        CheckResult(ROWS, True, "13 rows"),
        CheckResult(TENURE, False, "2 of 13 rows out of range", 2, ("-1", "99")),
        CheckResult(PLAN_EXISTS, False, "column missing"),
        skip_result(PLAN_IN_SET, "column plan is missing"),
    )
    assert not result.passed
    assert [(r.check.rule, r.check.column) for r in result.failures()] == [
        ("between", "tenure_months"),
        ("column_exists", "plan"),
    ]
    assert [r.check.rule for r in result.skipped()] == ["in_set"]
    assert result.summary() == (
        "2 of 4 checks failed on 13 rows (1 more not run because of them):\n"
        "  - tenure_months between 0 and 72: 2 of 13 rows out of range (e.g. -1, 99)\n"
        "  - column plan exists: column missing"
    )


def test_failed_warning_does_not_fail_the_result():
    warn = Check("not_null", "discount", {}, severity="warning")
    result = _result(
        CheckResult(ROWS, True, "13 rows"), CheckResult(warn, False, "4 of 13 rows missing", 4)
    )
    assert result.passed
    assert result.failures()[0].check is warn
    assert result.summary() == (
        "1 of 2 checks passed on 13 rows; 1 warning:\n"
        "  - [warning] discount has no missing values: 4 of 13 rows missing"
    )


def test_a_skipped_error_check_alone_still_fails():
    assert not _result(skip_result(PLAN_IN_SET, "column plan is missing")).passed


def test_to_dict_is_json_serialisable():
    result = _result(
        CheckResult(TENURE, False, "1 of 13 rows out of range", 1, ("99",)),
        skip_result(PLAN_IN_SET, "column plan is missing"),
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["passed"] is False
    assert (data["checks"], data["failed"], data["not_run"], data["row_count"]) == (2, 1, 1, 13)
    first = data["results"][0]
    assert first["rule"] == "between" and first["column"] == "tenure_months"
    assert first["status"] == "failed" and first["unexpected_examples"] == ["99"]
    assert first["description"] == "tenure_months between 0 and 72"
    assert data["results"][1]["status"] == "not run"


def test_examples_are_distinct_quoted_and_at_most_five():
    assert examples(["gold", "gold", 1, 2.5, None, "x", "y", "z"]) == (
        "'gold'",
        "1",
        "2.5",
        "None",
        "'x'",
    )


# -- HTML ----------------------------------------------------------------------------------------


def test_html_is_escaped_self_contained_and_lists_failures_first():
    evil = Check("in_set", "plan<script>", {"values": ["<b>"]})
    result = _result(
        CheckResult(ROWS, True, "13 rows"),
        CheckResult(evil, False, "1 of 13 rows not in the allowed set", 1, ("'<img src=x>'",)),
    )
    page = render_validation_html(result, title="churn <contract>", source="s3://b/k?a=1&b=2")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "plan&lt;script&gt;" in page and "churn &lt;contract&gt;" in page
    assert "s3://b/k?a=1&amp;b=2" in page
    assert "http" not in page  # no external assets
    assert page.index('class="failed"') < page.index('class="passed"')


def test_core_contract_imports_nothing_heavy():
    code = (
        "import sys, airflow_mlops_provider.core.contract\n"
        "heavy = {'pandas', 'great_expectations', 'pydantic', 'numpy'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
