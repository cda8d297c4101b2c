"""Which daily partitions a monitoring window covers.

Airflow 3 runs cron schedules as trigger timetables: a run's data interval is a point (its
logical date), so the window is derived from the schedule instead — the period since the
previous tick. Partitions are named by day (`dt={{ ds }}`), and a day's partition holds the
data up to that day, as the demo data does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def window_days(anchor: datetime, cron: str | None) -> list[date]:
    """The days whose partitions the window ending at `anchor` covers, oldest first.

    Every day whose midnight (UTC) falls in (previous tick of `cron`, anchor] — a weekly run
    reads seven daily partitions, a daily run one — and always the anchor's own day, so an
    hourly run (no midnight in its hour) still reads its day's partition. Without a cron
    (manual or @once pipelines) it is the anchor's day alone."""
    anchor = anchor.astimezone(UTC)
    days = [anchor.date()]
    if cron:
        from croniter import croniter  # light, and already an Airflow dependency

        previous = croniter(cron, anchor).get_prev(datetime)
        day = previous.date() + timedelta(days=1)
        while day < anchor.date():
            days.append(day)
            day += timedelta(days=1)
    return sorted(set(days))
