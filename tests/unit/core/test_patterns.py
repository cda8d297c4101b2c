"""Contract patterns: the YAML-time check (pure Python) agrees with what RE2 itself compiles,
and matching is linear-time on the values that make a backtracking engine hang."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from airflow_mlops_provider.core.patterns import matches, re2_problem

# Python accepts all of these; the right column says whether RE2 does too.
CORPUS = [
    (r"^[A-Z]{2}-\d{4}$", True),
    (r"^(?P<area>\d{3})-\d{4}$", True),
    (r"(?i)^sku_[a-f0-9]+$", True),
    (r"^(?s:.+)$", True),
    (r"^\w+@\w+\.(com|org)$", True),
    (r"\A\d+\b", True),
    (r"^(a+)+$", True),  # catastrophic for backtracking engines, linear in RE2
    (r"^[^\n]*\t\x41$", True),
    (r"(?m)^x", True),
    (r"^(\w)\1$", False),  # backreference
    (r"^(?P<c>\w)(?P=c)$", False),
    (r"^\d+(?=kg)", False),  # lookahead
    (r"(?<!-)\d+$", False),  # negative lookbehind
    (r"^(?:(a)|b)(?(1)c|d)$", False),  # conditional
    (r"^(?>a+)b", False),  # atomic group
    (r"^a++b", False),  # possessive
    (r"^\d+\Z", False),
    (r"^caf\u00e9$", False),
    (r"^\N{BULLET}", False),
    (r"(?x) ^ \d+ $", False),  # verbose flag
    (r"(?a)^\d+$", False),
]


def re2_compiles(pattern: str) -> bool:
    try:
        pc.match_substring_regex(pa.array([""]), pattern)  # an empty array compiles nothing
    except pa.ArrowInvalid:
        return False
    return True


@pytest.mark.parametrize(("pattern", "supported"), CORPUS)
def test_the_yaml_check_agrees_with_re2(pattern: str, supported: bool) -> None:
    assert re2_compiles(pattern) is supported  # the corpus itself is right
    problem = re2_problem(pattern)
    assert (problem is None) is supported, problem


def test_problems_name_the_construct() -> None:
    assert "backreference" in re2_problem(r"(x)\1")
    assert "lookahead" in re2_problem(r"a(?=b)")
    assert "use $" in re2_problem(r"abc\Z")
    assert "only i, m and s" in re2_problem(r"(?x)a b")
    assert "is not a valid regular expression" in re2_problem(r"(unclosed")


def test_escaped_backslashes_and_parentheses_are_not_mistaken() -> None:
    assert re2_problem(r"^C:\\Users\\Zoe$") is None  # \\Z is a backslash, then a Z
    assert re2_problem(r"^\(\?x\)$") is None  # a literal "(?x)"


def test_a_crafted_value_cannot_make_matching_hang() -> None:
    evil = pa.array(["a" * 50_000 + "!", "aaaa", None])
    found = matches(evil, r"^(a+)+$").to_pylist()
    assert found == [False, True, None]  # Python's re would not return for the first value
