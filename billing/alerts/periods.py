"""Calendar periods of a budget in its tenant's time zone.

Budget periods come from the reservation counters' own period math
(gateway/dataplane/budgets/periods.py, used by billing/budgets.py), so a
threshold alert and the counter that blocks a call always agree on where a
day, week or month begins. The day helpers below serve spend anomalies.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.dataplane.budgets.periods import window

log = logging.getLogger(__name__)
UTC = ZoneInfo("UTC")


def tenant_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r, using UTC", name)
        return UTC


def local_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of `moment`'s day in `zone`, as an aware UTC datetime."""
    local = moment.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


def add_local_days(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    """Midnight `days` calendar days later: 23 or 25 hours per day across a DST change."""
    local = start.astimezone(zone)
    return (datetime(local.year, local.month, local.day, tzinfo=zone) + timedelta(days=days)).astimezone(UTC)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def period_bounds(period: str, zone: ZoneInfo, now: datetime, created_at: datetime | None = None):
    """(start, end) of the period containing `now`; end is None for a total budget.

    A total budget runs from its creation (as its counter does): the creation
    time is also the stable key under which its alerts are sent once.
    """
    start = created_at or now
    span = window(period, zone.key, now.timestamp(), start.timestamp())
    if span.end is None:
        return start, None  # exactly the creation time: a float round trip could move it a microsecond
    return _at(span.start), _at(span.end)
