"""Slack rate limits and outages at the adapter, against a local stand-in for Slack's API
(Slack itself cannot be reached from here). The pipeline-level behaviour — a 429 waited out
during a training run, an unreachable Slack during monitoring — is in test_faults_services."""

from __future__ import annotations

import logging

import pytest

from airflow_mlops_provider.adapters import slack

from .fault_servers import FakeSlack

pytestmark = pytest.mark.integration
TOKEN = "xoxb-never-logged-42"


@pytest.fixture
def api():
    server = FakeSlack()
    yield server
    server.stop()


def test_short_rate_limit_is_waited_out_once(api: FakeSlack) -> None:
    api.script = [429]
    assert slack.send("drift!", channel="#ml", token=TOKEN, base_url=api.url) == "sent"
    assert [r["status"] for r in api.received] == [429, 200]


def test_long_rate_limit_is_not_waited_for(
    api: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """Retry-After: 120 would hold the worker slot for two minutes: give up at once, log it."""
    api.script, api.retry_after = [429, 429], "120"
    with caplog.at_level(logging.WARNING):
        status = slack.send("drift!", channel="#ml", token=TOKEN, base_url=api.url)
    assert status.startswith("failed:") and "ratelimited" in status
    assert [r["status"] for r in api.received] == [429]
    assert "not delivered" in caplog.text and TOKEN not in caplog.text


def test_unreachable_slack_is_logged_not_raised(
    api: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    api.stop()
    with caplog.at_level(logging.WARNING):
        status = slack.send("drift!", channel="#ml", token=TOKEN, base_url=api.url)
    assert status.startswith("failed:") and "Connection refused" in status
    assert "not delivered" in caplog.text and TOKEN not in caplog.text
