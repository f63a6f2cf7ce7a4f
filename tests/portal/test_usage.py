"""My usage: per-day figures of my keys from the rollups (the ledger only where they end), in a fixed
number of queries however many rows there are."""
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import Granularity, Grouping, UsageRollup
from billing.models import Budget, UsageRecord
from portal.selectors import usage_by_day, usage_totals
from tests.console.conftest import signed_in
from tests.factories import make_key


def _rollup(tenant, key, days_ago, requests=2, cost="0.5"):
    day = timezone.now().date() - timedelta(days=days_ago)
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    UsageRollup.objects.create(
        granularity=Granularity.DAY, grouping=Grouping.KEY, bucket_start=start, day=day, time_zone="UTC",
        tenant_id=tenant.pk, key_id=key.pk, requests=requests, input_tokens=10, output_tokens=20,
        cost_usd=Decimal(cost), built_at=timezone.now())


def _ledger(tenant, key, at=None, cost="0.25"):
    UsageRecord.objects.create(
        event_id=uuid.uuid4(), request_id="r", created_at=at or timezone.now(), tenant_id=tenant.pk, key_id=key.pk,
        route="chat", model="m", ingress="openai", endpoint="chat", status=200, input_tokens=1, output_tokens=2,
        cost_usd=Decimal(cost))


@pytest.mark.django_db
def test_it_sums_my_keys_from_rollups_and_the_newest_days_from_the_ledger(tenant_a, dev_a, dev_a2):
    mine, theirs = make_key(tenant_a, "mine", owner=dev_a), make_key(tenant_a, "theirs", owner=dev_a2)
    _rollup(tenant_a, mine, 3)
    _rollup(tenant_a, mine, 1)  # the newest rolled-up day: read again from the ledger
    _rollup(tenant_a, mine, 40)  # older than 30 days
    _rollup(tenant_a, theirs, 3)
    _ledger(tenant_a, mine, timezone.now() - timedelta(days=1))
    _ledger(tenant_a, mine)
    _ledger(tenant_a, theirs)
    days = usage_by_day(tenant_a, [mine.pk])
    assert len(days) == 30
    totals = usage_totals(days)
    assert totals["requests"] == 2 + 2  # day -3 from the rollup, day -1 and today from the ledger
    assert totals["cost_usd"] == Decimal("1.0")


@pytest.mark.django_db
def test_it_falls_back_to_the_ledger_when_there_are_no_rollups(tenant_a, dev_a):
    key = make_key(tenant_a, "k", owner=dev_a)
    _ledger(tenant_a, key, timezone.now() - timedelta(days=5))
    _ledger(tenant_a, key, timezone.now() - timedelta(days=45))  # outside the window
    assert usage_totals(usage_by_day(tenant_a, [key.pk]))["requests"] == 1


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _grow(tenant, user, start, stop):
    for i in range(start, stop):
        key = make_key(tenant, f"k{i}", owner=user)
        Budget.objects.create(tenant=tenant, scope=Budget.Scope.KEY, api_key=key, amount_usd="5")
        _rollup(tenant, key, i % 29 + 1)
        _ledger(tenant, key)


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["usage", "keys", "catalogue", "home"])
def test_it_keeps_the_query_count_fixed_as_rows_grow(page, tenant_a, dev_a):
    client, url = signed_in(dev_a), reverse(f"portal:{page}")
    _grow(tenant_a, dev_a, 0, 3)
    few = _queries(client, url)
    _grow(tenant_a, dev_a, 3, 30)
    assert _queries(client, url) == few


@pytest.mark.django_db
def test_it_shows_budget_and_limits_of_my_keys(tenant_a, dev_a):
    key = make_key(tenant_a, "limited", owner=dev_a)
    key.limits = {"rpm": 60}
    key.save()
    Budget.objects.create(tenant=tenant_a, scope=Budget.Scope.KEY, api_key=key, amount_usd="12")
    body = signed_in(dev_a).get(reverse("portal:usage")).content.decode()
    assert "60 requests/min" in body and "$12.00" in body and "$12.00 left" in body
