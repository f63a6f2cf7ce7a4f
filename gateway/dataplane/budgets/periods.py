"""Budget periods: calendar days, ISO weeks and months in the tenant's time zone, or all time.

A counter's Redis key embeds its period's label, so a new period is a new key:
nothing has to "reset" a counter, and no reset can race with a reservation
(LiteLLM #36941). Boundaries are the tenant's local midnights; across a DST
change a day lasts 23 or 25 hours.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAILY, WEEKLY, MONTHLY, TOTAL = "daily", "weekly", "monthly", "total"
SECONDS_PER_MINUTE = 60


@dataclass(frozen=True, slots=True)
class Window:
    label: str  # part of the counter's key: "d20250401", "w20250331", "m202504" or "total"
    start: float  # epoch seconds, inclusive
    end: float | None  # epoch seconds, exclusive; None: a total budget never resets


def window(period: str, zone: str, at: float, total_start: float = 0.0) -> Window:
    """The period containing the instant `at` (epoch seconds)."""
    if period == TOTAL:
        return Window("total", total_start, None)
    # Every zone's offset is a whole number of minutes (since ~1900), so a local midnight is
    # always on a minute boundary and all instants of one UTC minute share one window.
    return _window(period, zone, int(at // SECONDS_PER_MINUTE))


@lru_cache(maxsize=4096)  # a few (period, zone) pairs, one entry per minute each
def _window(period: str, zone: str, minute: int) -> Window:
    tz = ZoneInfo(zone)
    today = datetime.fromtimestamp(minute * SECONDS_PER_MINUTE, tz).date()
    if period == DAILY:
        return _between("d", today, today + timedelta(days=1), tz)
    if period == WEEKLY:  # ISO weeks start on Monday
        monday = today - timedelta(days=today.weekday())
        return _between("w", monday, monday + timedelta(days=7), tz)
    if period == MONTHLY:
        first = today.replace(day=1)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return Window(f"m{first:%Y%m}", _midnight(first, tz), _midnight(following, tz))
    raise ValueError(f"unknown budget period {period!r}")


def _between(prefix: str, first: date, following: date, tz: ZoneInfo) -> Window:
    return Window(f"{prefix}{first:%Y%m%d}", _midnight(first, tz), _midnight(following, tz))


def _midnight(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def minute_of(at: float) -> int:
    """The minute bucket a call's spend is filed under (by arrival, like the ledger's created_at)."""
    return int(at // SECONDS_PER_MINUTE)
