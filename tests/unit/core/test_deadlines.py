"""The I/O deadline policy: defaults, the deployment's overrides, refusal of values that would
remove the bound."""

from __future__ import annotations

import pytest

from airflow_mlops_provider.core.deadlines import io_deadline


def test_defaults_bound_one_request(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLOPS_IO_CONNECT_TIMEOUT", "MLOPS_IO_READ_TIMEOUT", "MLOPS_IO_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    policy = io_deadline()
    assert (policy.connect_seconds, policy.read_seconds, policy.attempts) == (5.0, 20.0, 4)
    assert policy.worst_case_seconds == 4 * 25 + 1 + 2 + 4  # attempts + backoff waits
    assert policy.describe() == "connect 5 s, read 20 s, 4 attempts"


def test_the_deployment_can_tighten_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_IO_READ_TIMEOUT", "2.5")
    monkeypatch.setenv("MLOPS_IO_ATTEMPTS", "1")
    assert io_deadline().describe() == "connect 5 s, read 2.5 s, 1 attempt"


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "soon"])
def test_values_that_remove_the_bound_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MLOPS_IO_READ_TIMEOUT", value)
    with pytest.raises(ValueError, match="MLOPS_IO_READ_TIMEOUT"):
        io_deadline()
