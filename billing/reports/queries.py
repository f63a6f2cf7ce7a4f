"""Cost by dimension and period, month over month, forecast: sums over day rollups."""
from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import F, FloatField, Max, Q, Sum, Value
from django.db.models.functions import TruncMonth
from django.utils import timezone

from analytics.models import Granularity, UsageRollup
from analytics.rollups import local_midnight, zone_of
from billing.reports.labels import labeler
from billing.reports.params import Query, column_of

COUNTS = ("requests", "errors", "cache_hits", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")
MONEY = ("cost_usd", "cost_saved_usd")
SUMS = (*COUNTS, *MONEY)
PERCENTILES = ("latency_p50_ms", "latency_p95_ms")
CENTS_12 = Decimal("1e-12")  # the ledger's precision


def money(value) -> str:
    return f"{(value or Decimal(0)):.12f}"


def rollups(query: Query, grouping: str | None = None):
    lookups = {f"{c}__isnull" if v is None else c: True if v is None else v for c, v in query.filters.items()}
    return UsageRollup.objects.filter(
        granularity=Granularity.DAY, grouping=grouping or query.grouping, tenant_id__in=query.tenant_ids,
        day__gte=query.first, day__lte=query.last, **lookups,
    )


def _group_keys(query: Query) -> list[str]:
    column = column_of(query.dimension)
    return ["tenant_id"] if column == "tenant_id" else ["tenant_id", column]


def _describe(query: Query, rows: list[dict]):
    """Add tenant slug, dimension value and label to grouped rollup rows."""
    column = column_of(query.dimension)
    label = labeler(query.dimension, [row[column] for row in rows], query.tenants)
    slugs = {tenant.pk: tenant.slug for tenant in query.tenants}
    for row in rows:
        row["tenant"], row["value"] = slugs[row["tenant_id"]], row[column]
        if query.dimension == "tenant":
            row["value"] = row["tenant"]
        row["label"] = label(row[column])
    return rows


def cost_rows(query: Query) -> list[dict]:
    """One row per period, tenant and dimension value.

    Percentiles come along only where a row is exactly one rollup row (daily
    period, no filter on another dimension); they cannot be combined.
    """
    exact = query.period == "day" and query.grouping == query.dimension
    period = F("day") if query.period == "day" else TruncMonth("day")
    extra = {name: Max(name) if exact else Value(None, output_field=FloatField()) for name in PERCENTILES}
    grouped = rollups(query).annotate(bucket=period).values("bucket", *_group_keys(query))
    rows = list(grouped.annotate(**{name: Sum(name) for name in SUMS}, **extra).order_by())
    for row in _describe(query, rows):
        bucket = row.pop("bucket")
        row["period"] = bucket.isoformat() if query.period == "day" else bucket.strftime("%Y-%m")
    rows.sort(key=lambda r: (r["period"], r["tenant"], -r["cost_usd"], str(r["label"])))
    return [_present(row) for row in rows]


def _present(row: dict) -> dict:
    out = {key: row[key] for key in ("period", "tenant", "value", "label") if key in row}
    out.update({name: row[name] for name in COUNTS})
    out.update({name: money(row[name]) for name in MONEY})
    out.update({name: row.get(name) for name in PERCENTILES})
    return out


def totals(rows: list[dict]) -> dict:
    out = {name: sum(row[name] for row in rows) for name in COUNTS}
    out.update({name: money(sum(Decimal(row[name]) for row in rows)) for name in MONEY})
    return out


def month_over_month(query: Query, month: date, today: date) -> list[dict]:
    """This month (query.first..last) against the whole previous month and its first N days.

    N = the days of this month so far (today's day of month; all of it for a
    past month), so a month in progress is also compared like for like.
    """
    previous_first = (month - timedelta(days=1)).replace(day=1)
    days_so_far = today.day if (today.year, today.month) == (month.year, month.month) else 31
    like_for_like = previous_first + timedelta(days=days_so_far - 1)
    current, before = Q(day__gte=month), Q(day__lt=month)
    widened = Query(query.tenants, previous_first, query.last, query.dimension, "month", query.filters)
    grouped = rollups(widened).values(*_group_keys(query)).order_by()
    rows = list(grouped.annotate(  # aliases differ from the model's fields, which Django forbids
        now_cost=Sum("cost_usd", filter=current),
        before_cost=Sum("cost_usd", filter=before),
        before_to_date_cost=Sum("cost_usd", filter=before & Q(day__lte=like_for_like)),
        now_requests=Sum("requests", filter=current),
        before_requests=Sum("requests", filter=before),
    ))
    return [_mom_row(row) for row in sorted(_describe(query, rows), key=lambda r: -(r["now_cost"] or 0))]


def _mom_row(row: dict) -> dict:
    now, previous = row["now_cost"] or Decimal(0), row["before_cost"] or Decimal(0)
    change_pct = None if not previous else round(float((now - previous) / previous * 100), 2)
    return {
        "tenant": row["tenant"], "value": row["value"], "label": row["label"],
        "cost_usd": money(now), "previous_cost_usd": money(previous),
        "previous_to_date_cost_usd": money(row["before_to_date_cost"]),
        "change_usd": money(now - previous), "change_pct": change_pct,
        "requests": row["now_requests"] or 0, "previous_requests": row["before_requests"] or 0,
    }


def days_elapsed(month: date, zone, now: datetime) -> tuple[float, int]:
    """(days of `month` gone by in `zone` at `now`, counting today's fraction; days in the month)."""
    length = calendar.monthrange(month.year, month.month)[1]
    start, end = local_midnight(month, zone), local_midnight(month + timedelta(days=length), zone)
    elapsed = (min(max(now, start), end) - start).total_seconds() / (end - start).total_seconds() * length
    return elapsed, length


def forecast(query: Query, month: date, now: datetime | None = None) -> list[dict]:
    """Cost to date + the month's daily run rate × the days left (linear)."""
    now = now or timezone.now()
    grouped = rollups(query).values(*_group_keys(query)).order_by()
    rows = _describe(query, list(grouped.annotate(cost_usd=Sum("cost_usd"), requests=Sum("requests"))))
    zones = {tenant.pk: zone_of(tenant.time_zone) for tenant in query.tenants}
    out = []
    for row in sorted(rows, key=lambda r: -r["cost_usd"]):
        elapsed, length = days_elapsed(month, zones[row["tenant_id"]], now)
        rate = (row["cost_usd"] / Decimal(elapsed)).quantize(CENTS_12) if elapsed else Decimal(0)
        projected = row["cost_usd"] if elapsed >= length else row["cost_usd"] + rate * Decimal(length - elapsed)
        out.append({
            "tenant": row["tenant"], "value": row["value"], "label": row["label"],
            "month": month.strftime("%Y-%m"), "days_elapsed": round(elapsed, 4), "days_in_month": length,
            "cost_to_date_usd": money(row["cost_usd"]), "requests_to_date": row["requests"],
            "daily_run_rate_usd": money(rate), "forecast_usd": money(projected.quantize(CENTS_12)),
        })
    return out
