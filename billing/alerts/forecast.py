"""When does a budget run out at the current burn rate? Linear, deliberately simple.

burn rate = spend so far in the period / time elapsed in the period; the
budget runs out after (amount - spent) / rate more time. A linear forecast is
what finance can check by hand; seasonality belongs in the reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

# Beyond ten years a "forecast" is noise (and timedelta overflows near 2.7 million years).
HORIZON = timedelta(days=3650)


@dataclass(frozen=True)
class Forecast:
    exhausted_at: datetime | None  # None: not within the period at this rate
    burn_per_day_usd: Decimal


def forecast_exhaustion(
    spent: Decimal, amount: Decimal, period_start: datetime, period_end: datetime | None, now: datetime
) -> Forecast:
    elapsed = (now - period_start).total_seconds()
    if elapsed <= 0 or spent <= 0:
        return Forecast(None, Decimal(0))
    per_second = Decimal(spent) / Decimal(elapsed)
    per_day = (per_second * 86400).quantize(Decimal("0.000001"))
    if spent >= amount:
        return Forecast(now, per_day)  # already spent: it ran out no later than now
    left = timedelta(seconds=min(float((Decimal(amount) - Decimal(spent)) / per_second), HORIZON.total_seconds()))
    moment = now + left
    if left >= HORIZON or (period_end is not None and moment >= period_end):
        return Forecast(None, per_day)  # the period resets (or the horizon passes) first
    return Forecast(moment, per_day)


def local_date(moment: datetime | None, zone: ZoneInfo) -> date | None:
    return None if moment is None else moment.astimezone(zone).date()
