"""Rollups against the raw ledger: sums, counts and percentiles per bucket and dimension.

`generate_usage` is also the data of the report tests (test_reports*.py).
"""
import random
import sqlite3
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from analytics import tasks
from analytics.aggregates import SQLITE_FUNCTION, _SqlitePercentile
from analytics.models import Granularity, UsageRollup
from analytics.rollups import DIMENSIONS, rollup_days, rollup_period, rollup_recent
from billing.models import UsageRecord
from gateway.models import ApiKey, Membership, Role, Team, User
from tests.factories import make_key

# (route, provider, model); the empty one is a call refused before routing.
TARGETS = [("chat", "openai-prod", "gpt-4o"), ("chat", "anthropic", "claude-sonnet"), ("cheap", "mock", "mock-1"),
           ("", "", "")]
MONEY_FIELDS = ("cost_usd", "cost_saved_usd")
COUNT_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


def make_world(tenant, zone="UTC"):
    """Two teams, three keys (one without a team) owned by three users: the ids the ledger mentions."""
    tenant.time_zone = zone
    tenant.save(update_fields=["time_zone"])
    teams = [Team.objects.create(tenant=tenant, name=name) for name in ("research", "support")]
    keys = []
    for index, team in enumerate([*teams, None]):
        # No password: hashing one costs more than the rest of the setup.
        owner = User.objects.create_user(email=f"dev{index}@{tenant.slug}.test")
        Membership.objects.create(tenant=tenant, user=owner, role=Role.DEVELOPER)
        key = make_key(tenant, f"key-{index}", owner=owner)
        key.team = team
        key.save(update_fields=["team"])
        keys.append(key)
    return keys


def _record(rng, index, key, created):
    route, provider, model = rng.choice(TARGETS)
    hit = rng.random() < 0.1
    return UsageRecord(
        event_id=uuid.UUID(int=rng.getrandbits(128)), request_id=f"req-{index}", created_at=created,
        tenant_id=key.tenant_id, team_id=key.team_id, key_id=key.pk, user_id=key.owner_id,
        route=route, provider=provider, model=model, ingress="openai", endpoint="chat",
        status=rng.choices([200, 400, 429, 502], weights=[88, 4, 4, 4])[0],
        input_tokens=rng.randrange(5000), output_tokens=rng.randrange(2000), cached_tokens=rng.randrange(300),
        reasoning_tokens=rng.randrange(100), latency_ms=None if rng.random() < 0.02 else rng.uniform(5, 4000),
        cost_usd=Decimal(0) if hit else Decimal(rng.randrange(10**10)) / Decimal(10**12),
        cache_status="hit" if hit else rng.choice(["miss", "bypass", ""]),
        cost_saved_usd=Decimal(rng.randrange(10**9)) / Decimal(10**12) if hit else Decimal(0),
    )


def generate_usage(keys, start, end, count, seed=5):
    """`count` ledger rows spread at random over [start, end), bulk-inserted."""
    rng, seconds = random.Random(seed), int((end - start).total_seconds())
    records = [
        _record(rng, index, rng.choice(keys), start + timedelta(seconds=rng.randrange(seconds), microseconds=17))
        for index in range(count)
    ]
    UsageRecord.objects.bulk_create(records, batch_size=1000)
    return records


def percentile(values, fraction):
    """NumPy's default (linear) percentile, via the standard library."""
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def expected_buckets(records, granularity, grouping, zones):
    groups = defaultdict(list)
    for record in records:
        if granularity == Granularity.HOUR:
            bucket = record.created_at.replace(minute=0, second=0, microsecond=0)
        else:
            bucket = record.created_at.astimezone(zones[record.tenant_id]).date()
        groups[(bucket, record.tenant_id, *(getattr(record, d) for d in DIMENSIONS[grouping]))].append(record)
    return groups


def actual_buckets(granularity, grouping):
    rows = UsageRollup.objects.filter(granularity=granularity, grouping=grouping)
    bucket = "bucket_start" if granularity == Granularity.HOUR else "day"
    return {(getattr(r, bucket), r.tenant_id, *(getattr(r, d) for d in DIMENSIONS[grouping])): r for r in rows}


def assert_bucket_matches(row, records):
    assert row.requests == len(records)
    assert row.errors == sum(1 for r in records if r.status >= 400)
    assert row.cache_hits == sum(1 for r in records if r.cache_status == "hit")
    for name in (*COUNT_FIELDS, *MONEY_FIELDS):
        assert getattr(row, name) == sum(getattr(r, name) for r in records), name
    latencies = sorted(r.latency_ms for r in records if r.latency_ms is not None)
    for name, fraction in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95)):
        expected = percentile(latencies, fraction)
        assert getattr(row, name) == (None if expected is None else pytest.approx(expected, rel=1e-9)), name


@pytest.fixture
def month_of_usage(tenant_a, tenant_b):
    """~6,000 calls in March 2025 (New York changes to DST on the 9th) across two zones."""
    keys = make_world(tenant_a) + make_world(tenant_b, "America/New_York")
    records = generate_usage(keys, datetime(2025, 3, 2, tzinfo=UTC), datetime(2025, 3, 30, tzinfo=UTC), 6000)
    zones = {tenant_a.pk: ZoneInfo("UTC"), tenant_b.pk: ZoneInfo("America/New_York")}
    return records, zones


@pytest.mark.django_db
def test_it_matches_the_raw_ledger_on_a_generated_month(month_of_usage):
    records, zones = month_of_usage
    rollup_period(date(2025, 3, 1), date(2025, 3, 31))
    for granularity in Granularity.values:
        for grouping in DIMENSIONS:
            expected = expected_buckets(records, granularity, grouping, zones)
            actual = actual_buckets(granularity, grouping)
            assert set(actual) == set(expected), (granularity, grouping)
            for key, members in expected.items():
                assert_bucket_matches(actual[key], members)
    ledger_total = sum(r.cost_usd for r in records)
    for granularity in Granularity.values:
        tenant_rows = UsageRollup.objects.filter(granularity=granularity, grouping="tenant")
        assert sum(r.cost_usd for r in tenant_rows) == ledger_total


def _snapshot(**filters):
    rows = UsageRollup.objects.filter(**filters).order_by("id").values()
    return sorted(tuple(sorted((k, v) for k, v in row.items() if k not in ("id", "built_at"))) for row in rows)


@pytest.mark.django_db
def test_it_rebuilds_a_day_idempotently(month_of_usage, tenant_a):
    day = date(2025, 3, 9)
    rollup_days(day, day)
    first = _snapshot(granularity="day")
    rollup_days(day, day)
    assert first and _snapshot(granularity="day") == first
    _one_call(ApiKey.objects.filter(tenant=tenant_a).first(), datetime(2025, 3, 9, 12, tzinfo=UTC))  # late
    rollup_days(day, day)
    rollup_days(day, day)
    row = UsageRollup.objects.get(granularity="day", grouping="tenant", day=day, tenant_id=tenant_a.pk)
    ledger = UsageRecord.objects.filter(
        tenant_id=tenant_a.pk, created_at__gte=datetime(2025, 3, 9, tzinfo=UTC),
        created_at__lt=datetime(2025, 3, 10, tzinfo=UTC),
    )
    assert row.requests == ledger.count()
    assert row.cost_usd == sum(ledger.values_list("cost_usd", flat=True))


@pytest.mark.django_db
def test_it_gives_the_same_rows_when_the_command_runs_twice(month_of_usage, tenant_a):
    call_command("rebuild_rollups", "--from", "2025-03-01", "--to", "2025-03-31", "--tenant", tenant_a.slug)
    first = _snapshot()
    assert {row[0] for row in UsageRollup.objects.values_list("tenant_id")} == {tenant_a.pk}
    call_command("rebuild_rollups", "--from", "2025-03-01", "--to", "2025-03-31", "--tenant", tenant_a.slug)
    assert _snapshot() == first


@pytest.mark.django_db
def test_it_refuses_a_backwards_period_or_an_unknown_tenant():
    with pytest.raises(CommandError, match="before"):
        call_command("rebuild_rollups", "--from", "2025-03-02", "--to", "2025-03-01")
    with pytest.raises(CommandError, match="no tenant"):
        call_command("rebuild_rollups", "--from", "2025-03-01", "--to", "2025-03-01", "--tenant", "nobody")


def _one_call(key, created, cost="0.000000000001"):
    rng = random.Random(created.timestamp())
    record = _record(rng, 0, key, created)
    record.cost_usd, record.status = Decimal(cost), 200
    record.save()
    return record


def _day_requests(tenant):
    rows = UsageRollup.objects.filter(granularity="day", grouping="tenant", tenant_id=tenant.pk)
    return {row.day: (row.requests, row.bucket_start) for row in rows}


@pytest.mark.django_db
def test_it_cuts_day_buckets_at_the_tenants_local_midnight(tenant_a, tenant_b):
    ny, kolkata = make_world(tenant_a, "America/New_York")[0], make_world(tenant_b, "Asia/Kolkata")[0]
    for moment in ("2025-01-15T04:59:59.999999", "2025-01-15T05:00:00",  # EST midnight = 05:00Z
                   "2025-03-10T03:59:59", "2025-03-10T04:00:00"):  # after DST: EDT midnight = 04:00Z
        _one_call(ny, datetime.fromisoformat(moment).replace(tzinfo=UTC))
    for moment in ("2025-01-14T18:29:59", "2025-01-14T18:30:00"):  # IST midnight = 18:30Z the day before
        _one_call(kolkata, datetime.fromisoformat(moment).replace(tzinfo=UTC))
    rollup_days(date(2025, 1, 14), date(2025, 3, 10))
    at = lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC)  # noqa: E731
    assert _day_requests(tenant_a) == {
        date(2025, 1, 14): (1, at("2025-01-14T05:00")), date(2025, 1, 15): (1, at("2025-01-15T05:00")),
        date(2025, 3, 9): (1, at("2025-03-09T05:00")), date(2025, 3, 10): (1, at("2025-03-10T04:00")),
    }
    assert _day_requests(tenant_b) == {
        date(2025, 1, 14): (1, at("2025-01-13T18:30")), date(2025, 1, 15): (1, at("2025-01-14T18:30")),
    }


@pytest.mark.django_db
def test_it_rolls_up_the_trailing_window_and_catches_late_rows(tenant_a):
    key = make_world(tenant_a)[0]
    now = datetime(2025, 5, 20, 10, 17, tzinfo=UTC)
    for hours_ago in (0, 1, 3):
        _one_call(key, now - timedelta(hours=hours_ago))
    rollup_recent(now)
    hours = UsageRollup.objects.filter(granularity="hour", grouping="tenant")
    assert sorted(r.bucket_start.hour for r in hours) == [9, 10]  # 07:17 is outside the window
    assert UsageRollup.objects.get(granularity="day", grouping="tenant").requests == 3
    _one_call(key, now - timedelta(minutes=50))  # lands late in the previous hour
    rollup_recent(now)
    assert UsageRollup.objects.get(granularity="hour", grouping="tenant", bucket_start__hour=9).requests == 2
    assert UsageRollup.objects.get(granularity="day", grouping="tenant").requests == 4


@pytest.mark.django_db
def test_it_schedules_the_recent_rollup_on_beat(tenant_a):
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "analytics.rollup_recent")
    assert entry["schedule"] <= 300
    _one_call(make_world(tenant_a)[0], datetime.now(UTC))
    assert tasks.rollup_recent.apply().get()["hour"] > 0


def test_it_computes_the_same_percentile_on_sqlite():
    values = [random.Random(3).uniform(0, 1000) for _ in range(501)]
    connection = sqlite3.connect(":memory:")
    connection.create_aggregate(SQLITE_FUNCTION, 2, _SqlitePercentile)
    connection.execute("CREATE TABLE t (v REAL)")
    connection.executemany("INSERT INTO t VALUES (?)", [(v,) for v in [*values, None]])
    for fraction in (0.5, 0.95):
        (got,) = connection.execute(f"SELECT {SQLITE_FUNCTION}(v, ?) FROM t", (fraction,)).fetchone()
        assert got == pytest.approx(percentile(sorted(values), fraction), rel=1e-12)
