"""Building the hour and day rollups from the usage ledger.

* Hour buckets are UTC hours, for every tenant alike (their `day` is the
  UTC date; charts convert `bucket_start` to the viewer's zone).
* Day buckets are calendar days in each tenant's `time_zone` (midnight to
  midnight local time, so 23 or 25 hours on DST days). They are aggregated
  from the raw ledger rows of that local day, not from hour buckets, because
  latency percentiles cannot be summed and zones such as +05:30 do not start
  their days on a UTC hour.
* Every percentile is computed by the database over the raw rows of the
  bucket when the bucket is (re)built.
* Rebuilding replaces: for the tenants and window at hand, one transaction
  deletes the rollup rows and inserts them again from the ledger, so running
  it twice leaves the same rows. Tenant rows are locked first so that two
  rebuilds of the same buckets (the beat task and a manual rebuild) queue
  rather than both inserting.

Ledger rows without a tenant, or of tenants that were deleted, are not
rolled up (every authenticated request has a tenant).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from analytics.aggregates import Percentile
from analytics.models import Granularity, Grouping, UsageRollup
from billing.effective_cost import cost_sum, re_rated
from billing.models import UsageRecord
from gateway.models import Tenant

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# Hour buckets are rebuilt one UTC day per transaction: short locks, few queries.
HOURS_PER_TRANSACTION = 24
# Day buckets: a month per transaction for the same reason.
DAYS_PER_TRANSACTION = 31
CACHE_HIT_STATUSES = ("hit", "semantic")

# grouping -> the ledger columns it groups by (tenant_id always)
DIMENSIONS = {
    Grouping.TENANT: (),
    Grouping.TEAM: ("team_id",),
    Grouping.KEY: ("key_id",),
    Grouping.USER: ("user_id",),
    Grouping.ROUTE: ("route",),
    Grouping.PROVIDER: ("provider",),
    Grouping.MODEL: ("model",),
    Grouping.DETAIL: ("team_id", "key_id", "user_id", "route", "provider", "model"),
}


def measures(adjusted: bool = False):
    """adjusted: some call of the window was re-rated, so costs are effective costs (billing.effective_cost)."""
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(status__gte=400)),
        "cache_hits": Count("id", filter=Q(cache_status__in=CACHE_HIT_STATUSES)),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "cached_tokens": Sum("cached_tokens"),
        "reasoning_tokens": Sum("reasoning_tokens"),
        "cost_usd": cost_sum(adjusted),
        "cost_saved_usd": Sum("cost_saved_usd"),
        "latency_p50_ms": Percentile("latency_ms", 0.5),
        "latency_p95_ms": Percentile("latency_ms", 0.95),
    }


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r, rolling up in UTC", name)
        return ZoneInfo("UTC")


def tenant_zones(tenant_ids=None) -> dict[int, ZoneInfo]:
    tenants = Tenant.objects.all() if tenant_ids is None else Tenant.objects.filter(id__in=tenant_ids)
    return {pk: zone_of(name) for pk, name in tenants.values_list("id", "time_zone")}


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant `day` starts in `zone` (where midnight is skipped, the transition instant)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ledger(start: datetime, end: datetime, tenant_ids):
    """The window's ledger rows, and whether any of them was re-rated."""
    tenant_ids = list(tenant_ids)
    rows = UsageRecord.objects.filter(tenant_id__in=tenant_ids, created_at__gte=start, created_at__lt=end)
    return rows, re_rated(tenant_ids, start, end)


def _insert_grouped(ledger, adjusted: bool, constants: dict, buckets: dict, midnights: dict | None = None) -> int:
    """INSERT INTO rollups SELECT ... FROM (the ledger grouped by each grouping set).

    The aggregation never leaves the database: building tens of thousands of
    rollup rows as Python objects cost ten times more than the queries.
    `ledger` and `adjusted` are what _ledger returns, `constants` columns with one value for all
    rows, `buckets` columns computed per ledger row (and grouped by); `midnights` maps each local
    date to the instant it starts, for day rows' bucket_start.
    """
    written = 0
    for grouping, dims in DIMENSIONS.items():
        grouped = ledger.annotate(**buckets).values(*buckets, "tenant_id", *dims).annotate(**measures(adjusted))
        grouped = grouped.order_by()
        written += _insert_select(grouped, {**constants, "grouping": grouping}, midnights)
    return written


def _insert_select(queryset, constants: dict, midnights: dict | None) -> int:
    sql, params = queryset.query.sql_with_params()
    selected = [*queryset.query.values_select, *queryset.query.annotation_select]
    quote, columns, select, values = connection.ops.quote_name, [], [], []
    for field in UsageRollup._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(field.column))
        if field.name in constants:
            select.append("%s")
            values.append(field.get_db_prep_save(constants[field.name], connection))
        elif field.name == "bucket_start" and midnights:
            select.append(f"CASE grouped.{quote('day')} {'WHEN %s THEN %s ' * len(midnights)}END")
            day_field = UsageRollup._meta.get_field("day")
            for day, start in midnights.items():
                values += [day_field.get_db_prep_save(day, connection), field.get_db_prep_save(start, connection)]
        elif field.name in selected:
            select.append(f"grouped.{quote(field.name)}")
        else:  # a dimension this grouping does not group by
            select.append("NULL" if field.null else "''")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(UsageRollup._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {', '.join(select)} FROM ({sql}) grouped",
            (*values, *params),
        )
        return cursor.rowcount


def _replace(granularity: str, window: Q, tenant_ids, insert) -> int:
    """Swap the rollup rows of `window` for what `insert(built_at)` writes, atomically."""
    tenant_ids = sorted(tenant_ids)
    if not tenant_ids:
        return 0
    with transaction.atomic():
        # Locked in id order so that overlapping rebuilds cannot deadlock.
        list(Tenant.objects.select_for_update().filter(id__in=tenant_ids).order_by("id").values_list("id"))
        UsageRollup.objects.filter(window, granularity=granularity, tenant_id__in=tenant_ids).delete()
        return insert(timezone.now())


def _insert_hours(start, end, tenant_ids, built_at) -> int:
    constants = {"granularity": Granularity.HOUR, "time_zone": "UTC", "built_at": built_at}
    buckets = {"bucket_start": TruncHour("created_at", tzinfo=UTC), "day": TruncDate("created_at", tzinfo=UTC)}
    return _insert_grouped(*_ledger(start, end, tenant_ids), constants, buckets)


def _insert_days(first: date, last: date, zone: ZoneInfo, tenant_ids, built_at) -> int:
    """Local days: rows between two local midnights, whatever DST does in between."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    midnights = {day: local_midnight(day, zone) for day in days}
    ledger, adjusted = _ledger(midnights[first], local_midnight(last + timedelta(days=1), zone), tenant_ids)
    constants = {"granularity": Granularity.DAY, "time_zone": zone.key, "built_at": built_at}
    return _insert_grouped(ledger, adjusted, constants, {"day": TruncDate("created_at", tzinfo=zone)}, midnights)


def rollup_hours(start: datetime, end: datetime, tenant_ids=None) -> int:
    """Rebuild every UTC hour bucket that starts in [start, end); returns the rows written."""
    tenant_ids, cursor, written = list(tenant_zones(tenant_ids)), floor_hour(start), 0
    while cursor < end:
        stop = min(cursor + HOURS_PER_TRANSACTION * HOUR, floor_hour(end - timedelta.resolution) + HOUR)
        window = Q(bucket_start__gte=cursor, bucket_start__lt=stop)
        insert = partial(_insert_hours, cursor, stop, tenant_ids)
        written += _replace(Granularity.HOUR, window, tenant_ids, insert)
        cursor = stop
    return written


def zone_groups(tenant_ids=None) -> dict[ZoneInfo, list[int]]:
    groups = defaultdict(list)
    for tenant_id, zone in tenant_zones(tenant_ids).items():
        groups[zone].append(tenant_id)
    return groups


def rollup_zone_days(zone: ZoneInfo, tenant_ids, first: date, last: date) -> int:
    """Rebuild the local days first..last (inclusive) of tenants that share `zone`."""
    written, cursor = 0, first
    while cursor <= last:
        stop = min(cursor + timedelta(days=DAYS_PER_TRANSACTION - 1), last)
        window = Q(day__gte=cursor, day__lte=stop)
        insert = partial(_insert_days, cursor, stop, zone, tenant_ids)
        written += _replace(Granularity.DAY, window, tenant_ids, insert)
        cursor = stop + timedelta(days=1)
    return written


def rollup_days(first: date, last: date, tenant_ids=None) -> int:
    """Rebuild the day buckets of the local dates first..last of every (or the given) tenant."""
    return sum(rollup_zone_days(zone, ids, first, last) for zone, ids in zone_groups(tenant_ids).items())


def rollup_period(first: date, last: date, tenant_ids=None) -> dict:
    """Hours of the UTC dates first..last and each tenant's local days first..last."""
    start, end = local_midnight(first, UTC), local_midnight(last + timedelta(days=1), UTC)
    return {"hour": rollup_hours(start, end, tenant_ids), "day": rollup_days(first, last, tenant_ids)}


def rollup_recent(now: datetime | None = None, tenant_ids=None) -> dict:
    """The buckets that are still filling or may still receive late rows.

    The trailing window: the previous and the current UTC hour, and each
    tenant's local yesterday and today. A ledger row that lands up to an
    hour after its hour ended (and up to a day after its day ended) is
    rolled up by the next run; later arrivals (a spool replayed after a long
    Redis outage, a re-rating) need `manage.py rebuild_rollups`.
    """
    now = now or timezone.now()
    current = floor_hour(now)
    hours = rollup_hours(current - HOUR, current + HOUR, tenant_ids)
    days = 0
    for zone, ids in zone_groups(tenant_ids).items():
        today = now.astimezone(zone).date()
        days += rollup_zone_days(zone, ids, today - timedelta(days=1), today)
    return {"hour": hours, "day": days}
