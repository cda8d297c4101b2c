"""The release invariants (core.release_rules): what may be canaried or promoted, and the
refusals that name the version, the champion and what to clear."""

from __future__ import annotations

import pytest

from airflow_mlops_provider.core.release_rules import (
    REFUSED,
    RELEASE,
    RELEASED,
    GateRecord,
    check_release,
)


def gated(version: str = "2", decision: str = "promote", champion: str = "1", **tags: str):
    record = GateRecord(version, decision, champion, holdout="h.parquet", run_id="r")
    return GateRecord.from_tags(version, {**record.tags(), **tags})


def test_a_pass_against_the_current_champion_is_released_against_it() -> None:
    check = check_release(gated(), champion_now="1", newest_of_run="2")
    assert (check.kind, check.version, check.champion) == (RELEASE, "2", "1")


def test_a_first_model_gated_without_a_champion_is_promoted_directly() -> None:
    record = gated(version="1", champion=None)
    assert record.champion is None
    check = check_release(record, champion_now=None, newest_of_run="1")
    assert (check.kind, check.champion) == (RELEASE, None)


def test_the_issue_13_clear_is_refused_naming_what_to_clear() -> None:
    """retrain + canary_promote cleared after v2 was promoted: retrain made v3, the gate's
    record still describes v2 against v1."""
    check = check_release(gated(), champion_now="2", newest_of_run="3")
    assert check.kind == REFUSED
    assert "registered version 3 after the gate judged version 2" in check.reason
    assert "clear `evaluate`" in check.reason and "champion version 2" in check.reason


def test_a_version_gated_against_another_champion_is_refused() -> None:
    check = check_release(gated(), champion_now="5", newest_of_run="2")
    assert check.kind == REFUSED
    assert "gated against champion version 1, but the champion is now champion version 5" in (
        check.reason
    )
    first = check_release(gated(version="1", champion=None), champion_now="7", newest_of_run="1")
    assert first.kind == REFUSED and "against no champion" in first.reason


@pytest.mark.parametrize(
    ("tags", "says"),
    [
        ({}, "no gate record"),
        ({"mlops.gate": "promote"}, "does not name the champion"),
        ({"mlops.gate": "reject", "mlops.gate_champion": "1"}, "decided 'reject'"),
        ({"mlops.gate": "approval", "mlops.gate_champion": "1"}, "answer is missing"),
        (
            {"mlops.gate": "approval", "mlops.gate_champion": "1", "mlops.approval": "rejected"},
            "answer is rejected",
        ),
        (
            {"mlops.gate": "approval", "mlops.gate_champion": "1", "mlops.approval": "approved"},
            "approval of version 2 was given against ?",
        ),
        (
            {
                "mlops.gate": "approval",
                "mlops.gate_champion": "1",
                "mlops.approval": "approved",
                "mlops.approval_champion": "4",
            },
            "given against champion version 4",
        ),
    ],
)
def test_a_version_without_a_pass_or_an_approval_is_refused(tags: dict, says: str) -> None:
    check = check_release(GateRecord.from_tags("2", tags), champion_now="1", newest_of_run="2")
    assert check.kind == REFUSED and says in check.reason, check.reason


def test_an_approval_for_this_comparison_releases() -> None:
    answer = {"mlops.approval": "approved", "mlops.approval_champion": "1"}
    record = gated(decision="approval", **answer)
    assert check_release(record, champion_now="1", newest_of_run="2").kind == RELEASE


def test_the_champion_itself_has_nothing_left_to_release() -> None:
    """canary_promote re-run after the promotion (or resumed after a kill right after it)."""
    check = check_release(gated(), champion_now="2", newest_of_run="2")
    assert (check.kind, check.champion) == (RELEASED, "1")
    # an older version of the run is not "newer": only a later retrain refuses
    assert check_release(gated(), champion_now="1", newest_of_run="1").kind == RELEASE
