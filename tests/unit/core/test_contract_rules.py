"""Contract quality rules → checks: uniqueness, pattern, null share, keys, time, severity.

Pure: no GX, no pandas. The GX side of each rule is in tests/integration/test_great_expectations.py.
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from airflow_mlops_provider.core.contract import (
    Check,
    CheckResult,
    ValidationResult,
    checks_from_contract,
    render_validation_html,
)
from airflow_mlops_provider.spec import ColumnRule, ContractSpec


def _contract(**overrides) -> ContractSpec:
    values = {
        "columns": {
            "customer_id": {"type": "str", "unique": True, "pattern": "^c[0-9]+$"},
            "event_time": {"type": "datetime"},
            "signup": {"type": "datetime", "severity": "warn"},
            "discount": {"type": "float", "max_null_fraction": 0.05},
            "plan": {"type": "str"},
        },
        "unique_keys": [{"columns": ["plan", "event_time"]}],
        "freshness": {"column": "event_time", "max_age_hours": 24},
        "no_future_timestamps": True,
    }
    values.update(overrides)
    return ContractSpec.model_validate(values)


def _keys(checks: list[Check]) -> list[tuple[str, str | None]]:
    return [(c.rule, c.column) for c in checks]


def test_quality_rules_become_checks_in_stable_order():
    assert _keys(checks_from_contract(_contract())) == [
        ("row_count", None),
        ("no_extra_columns", None),
        ("unique_key", None),
        ("column_exists", "customer_id"),
        ("column_type", "customer_id"),
        ("not_null", "customer_id"),
        ("pattern", "customer_id"),
        ("unique", "customer_id"),
        ("column_exists", "event_time"),
        ("column_type", "event_time"),
        ("not_null", "event_time"),
        ("freshness", "event_time"),
        ("no_future", "event_time"),
        ("column_exists", "signup"),
        ("column_type", "signup"),
        ("not_null", "signup"),
        ("no_future", "signup"),
        ("column_exists", "discount"),
        ("column_type", "discount"),
        ("null_fraction", "discount"),
        ("finite", "discount"),
        ("column_exists", "plan"),
        ("column_type", "plan"),
        ("not_null", "plan"),
    ]


def test_quality_check_params_and_descriptions():
    checks = {(c.rule, c.column): c for c in checks_from_contract(_contract())}
    expected = {
        ("unique_key", None): ({"columns": ["plan", "event_time"]}, "(plan, event_time) is unique"),
        ("pattern", "customer_id"): ({"regex": "^c[0-9]+$"}, "customer_id matches ^c[0-9]+$"),
        ("unique", "customer_id"): ({}, "customer_id values are unique"),
        ("freshness", "event_time"): (
            {"max_age_hours": 24},
            "latest event_time at most 24 hours old",
        ),
        ("no_future", "event_time"): (
            {"tolerance_minutes": 5},
            "event_time not later than now + 5 minutes",
        ),
        ("null_fraction", "discount"): (
            {"max_fraction": 0.05},
            "discount has at most 5% missing values",
        ),
    }
    for key, (params, text) in expected.items():
        assert (checks[key].params, checks[key].describe()) == (params, text)
    json.dumps([c.to_dict() for c in checks.values()])


def test_warn_severity_covers_quality_rules_but_not_the_schema():
    by_key = {(c.rule, c.column): c.severity for c in checks_from_contract(_contract())}
    assert by_key[("not_null", "signup")] == "warning"
    assert by_key[("column_exists", "signup")] == "error"
    assert by_key[("column_type", "signup")] == "error"
    # contract-level rules (keys, freshness, no future) have a severity of their own
    assert by_key[("no_future", "signup")] == "error"


def test_table_and_time_rules_carry_their_own_severity():
    contract = _contract(
        unique_keys=[{"columns": ["plan", "event_time"], "severity": "warn"}],
        freshness={"column": "event_time", "max_age_hours": 6, "severity": "warn"},
    )
    by_key = {(c.rule, c.column): c.severity for c in checks_from_contract(contract)}
    assert by_key[("unique_key", None)] == "warning"
    assert by_key[("freshness", "event_time")] == "warning"


def test_no_future_can_be_limited_to_some_columns():
    contract = _contract(no_future_timestamps={"columns": ["signup"], "tolerance_minutes": 0})
    futures = [c for c in checks_from_contract(contract) if c.rule == "no_future"]
    assert [(c.column, c.params) for c in futures] == [("signup", {"tolerance_minutes": 0})]


def test_time_rules_are_off_unless_given():
    contract = _contract(freshness=None, no_future_timestamps=False, unique_keys=[])
    rules = {c.rule for c in checks_from_contract(contract)}
    assert not rules & {"freshness", "no_future", "unique_key"}


def test_skipped_columns_take_their_keys_and_time_rules_along():
    checks = checks_from_contract(_contract(), skip_columns=["event_time"])
    assert not [c for c in checks if c.column == "event_time"]
    assert "unique_key" not in {c.rule for c in checks}


def test_a_warning_is_reported_but_does_not_fail():
    warn = Check("unique", "customer_id", {}, severity="warning")
    result = ValidationResult(
        (
            CheckResult(Check("column_exists", "customer_id", {}), True, "present"),
            CheckResult(warn, False, "2 of 5 rows duplicated", 2, ("'c2'",)),
        ),
        row_count=5,
    )
    assert result.passed
    assert result.summary() == (
        "1 of 2 checks passed on 5 rows; 1 warning:\n"
        "  - [warning] customer_id values are unique: 2 of 5 rows duplicated (e.g. 'c2')"
    )
    assert 'class="warning"' in render_validation_html(result, title="t", source="s")


# -- the spec side of the rules ---------------------------------------------------------------


def test_new_fields_default_to_the_old_behaviour():
    rule = ColumnRule(type="str")
    assert (rule.unique, rule.pattern, rule.max_null_fraction, rule.severity) == (
        False,
        None,
        None,
        "error",
    )
    contract = ContractSpec(columns={"a": rule})
    assert (contract.unique_keys, contract.freshness, contract.no_future_timestamps) == (
        [],
        None,
        None,
    )


def test_max_null_fraction_makes_the_column_optional():
    assert ColumnRule.model_validate({"type": "float", "max_null_fraction": 0.1}).required is False
    with pytest.raises(ValidationError, match="keep one of them"):
        ColumnRule.model_validate({"type": "float", "max_null_fraction": 0.1, "required": True})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        ColumnRule.model_validate({"type": "float", "max_null_fraction": 1.5})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"type": "int", "pattern": "^1"}, "pattern applies to str columns, not int"),
        ({"type": "str", "pattern": "(unclosed"}, "not a valid regular expression"),
        ({"type": "str", "severity": "info"}, "'error' or 'warn'"),
    ],
)
def test_column_rule_rejects(rule, message):
    with pytest.raises(ValidationError, match=message):
        ColumnRule.model_validate(rule)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"unique_keys": [{"columns": ["plan", "tier"]}]},
            r"unique_keys.0.columns\n  \['tier'\] must name",
        ),
        ({"unique_keys": [{"columns": ["plan"]}]}, "at least 2 items"),
        ({"freshness": {"column": "plan", "max_age_hours": 1}}, "of type datetime"),
        ({"freshness": {"column": "event_time", "max_age_hours": 0}}, "greater than 0"),
        ({"no_future_timestamps": {"columns": ["discount"]}}, "of type datetime"),
        ({"min_rows": 10, "max_rows": 5}, "greater than max_rows"),
    ],
)
def test_contract_rejects(overrides, message):
    with pytest.raises(ValidationError, match=message):
        _contract(**overrides)


def test_time_descriptions_agree_in_number():
    assert Check("freshness", "t", {"max_age_hours": 1}).describe() == "latest t at most 1 hour old"
    assert (
        Check("no_future", "t", {"tolerance_minutes": 0.5}).describe()
        == "t not later than now + 0.5 minutes"
    )
