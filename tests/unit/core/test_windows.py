"""Monitoring windows: the daily partitions a run covers follow its schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from airflow_mlops_provider.core.windows import window_days

SUNDAY = datetime(2026, 11, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("anchor", "cron", "expected"),
    [
        (SUNDAY, "0 0 * * *", [date(2026, 11, 8)]),  # daily: its own day
        (SUNDAY, "0 0 * * 0", [date(2026, 11, d) for d in range(2, 9)]),  # weekly: 7 days
        (SUNDAY.replace(hour=5), "0 * * * *", [date(2026, 11, 8)]),  # hourly: its day
        (SUNDAY.replace(hour=3), "0 3 * * *", [date(2026, 11, 8)]),  # daily at 03:00
        (SUNDAY.replace(hour=1), "0 0 * * *", [date(2026, 11, 8)]),  # manual run mid-period
        (SUNDAY, None, [date(2026, 11, 8)]),  # no schedule
        (datetime(2026, 11, 3, tzinfo=UTC), "0 0 */2 * *", [date(2026, 11, 2), date(2026, 11, 3)]),
    ],
)
def test_window_days(anchor: datetime, cron: str | None, expected: list[date]) -> None:
    assert window_days(anchor, cron) == expected
