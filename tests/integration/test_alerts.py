"""Budget threshold alerts, spend anomalies and the exhaustion forecast (issue 5, item 4).

Ledger rows are written directly; the evaluation runs with an explicit `now`
(or as the Celery task) and e-mail goes to Django's locmem outbox.
"""
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from billing.alerts.deliver import deliveries_send_due
from billing.alerts.evaluate import anomalies_evaluate, thresholds_evaluate
from billing.alerts.forecast import forecast_exhaustion
from billing.alerts.periods import period_bounds
from billing.alerts.tasks import alerts_evaluate
from billing.models import AlertChannel, AlertDelivery, AlertEvent, AlertSettings, Budget, UsageRecord
from tests.factories import make_key, make_route

UTC = dt_timezone.utc
# Mid-month, mid-week, mid-day: no period boundary near it unless a test moves it.
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


def spend(tenant, amount, at, **columns):
    """One ledger row of `amount` USD at `at` (columns: key_id, route_id, team_id, user_id)."""
    UsageRecord.objects.bulk_create([
        UsageRecord(
            event_id=uuid.uuid4(), request_id=uuid.uuid4().hex, created_at=at, tenant_id=tenant.pk,
            ingress="openai", endpoint="chat", status=200, cost_usd=Decimal(str(amount)), **columns,
        )
    ])


def run(now):
    """What the beat task does, at a chosen moment."""
    thresholds_evaluate(now)
    anomalies_evaluate(now)
    deliveries_send_due(now)


def email_channel(tenant, **fields):
    fields.setdefault("target", "finance@a.test, cto@a.test")
    fields.setdefault("alert_kinds", ["threshold"])  # big first-day spend is also an anomaly
    return AlertChannel.objects.create(tenant=tenant, name=fields.pop("name", "mail"), kind="email", **fields)


def budget(tenant, amount="10", period="monthly", **fields):
    return Budget.objects.create(tenant=tenant, scope="tenant", amount_usd=amount, period=period, **fields)


def subjects(outbox):
    return [m.subject for m in outbox]


@pytest.mark.django_db
def test_it_emails_once_per_threshold_when_the_task_runs_twice(tenant_a):
    email_channel(tenant_a)
    limit = budget(tenant_a)
    spend(tenant_a, "6", timezone.now() - timedelta(seconds=1))
    alerts_evaluate.apply()
    alerts_evaluate.apply()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["finance@a.test", "cto@a.test"]
    assert "reached 50 %" in mail.outbox[0].subject
    assert "6.00 USD spent, 4.00 USD left" in mail.outbox[0].body
    event = AlertEvent.objects.get(budget=limit)
    assert (event.threshold, event.superseded) == (50, False)
    delivery = event.deliveries.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")


@pytest.mark.django_db
def test_it_sends_50_then_80_when_crossed_in_separate_runs(tenant_a):
    email_channel(tenant_a)
    budget(tenant_a)
    spend(tenant_a, "4.9999", NOW - timedelta(hours=2))
    run(NOW - timedelta(minutes=1))
    assert mail.outbox == []  # 49.999 % has not reached 50 %
    spend(tenant_a, "0.0001", NOW - timedelta(hours=1))
    run(NOW)
    spend(tenant_a, "3.5", NOW + timedelta(minutes=1))
    run(NOW + timedelta(minutes=2))
    run(NOW + timedelta(minutes=3))
    assert [("50 %" in s, "80 %" in s) for s in subjects(mail.outbox)] == [(True, False), (False, True)]
    assert sorted(AlertEvent.objects.values_list("threshold", flat=True)) == [50, 80]


@pytest.mark.django_db
def test_it_sends_only_the_highest_of_thresholds_crossed_together(tenant_a):
    email_channel(tenant_a)
    budget(tenant_a)
    spend(tenant_a, "10.5", NOW - timedelta(hours=1))
    run(NOW)
    run(NOW + timedelta(minutes=1))
    assert len(mail.outbox) == 1 and "reached 100 %" in mail.outbox[0].subject
    assert "The budget is exhausted." in mail.outbox[0].body
    events = {e.threshold: e for e in AlertEvent.objects.filter(kind="threshold")}
    assert {t: e.superseded for t, e in events.items()} == {50: True, 80: True, 100: False}
    assert AlertDelivery.objects.filter(event__threshold__in=[50, 80]).count() == 0


@pytest.mark.django_db
def test_it_rearms_thresholds_in_a_new_period_of_the_tenants_time_zone(tenant_a):
    tenant_a.time_zone = "America/New_York"
    tenant_a.save()
    email_channel(tenant_a)
    limit = budget(tenant_a, period="daily")
    eastern = ZoneInfo("America/New_York")
    late = datetime(2026, 11, 18, 23, 30, tzinfo=eastern)  # 04:30 UTC on the 19th
    spend(tenant_a, "6", late - timedelta(minutes=10))
    run(late)
    run(late + timedelta(minutes=20))  # 23:50, same local day: nothing new
    next_day = datetime(2026, 11, 19, 0, 10, tzinfo=eastern)
    run(next_day)  # yesterday's 6 USD no longer counts
    assert len(mail.outbox) == 1
    spend(tenant_a, "5", next_day)
    run(next_day + timedelta(minutes=1))
    assert len(mail.outbox) == 2
    starts = list(AlertEvent.objects.filter(budget=limit).order_by("id").values_list("period_start", flat=True))
    assert [s.astimezone(eastern).date().isoformat() for s in starts] == ["2026-11-18", "2026-11-19"]
    assert starts[1].astimezone(eastern).hour == 0


@pytest.mark.django_db
def test_it_counts_only_the_budgets_key_and_route(tenant_a):
    email_channel(tenant_a)
    key, other_key = make_key(tenant_a, "app"), make_key(tenant_a, "batch")
    route, other_route = make_route(tenant_a, "chat"), make_route(tenant_a, "embed")
    Budget.objects.create(tenant=tenant_a, scope="key", api_key=key, route=route, amount_usd="10")
    spend(tenant_a, "4", NOW - timedelta(hours=1), key_id=key.pk, route_id=route.pk)
    spend(tenant_a, "50", NOW - timedelta(hours=1), key_id=other_key.pk, route_id=route.pk)
    spend(tenant_a, "50", NOW - timedelta(hours=1), key_id=key.pk, route_id=other_route.pk)
    run(NOW)
    assert mail.outbox == []
    spend(tenant_a, "1", NOW, key_id=key.pk, route_id=route.pk)
    run(NOW + timedelta(minutes=1))
    assert len(mail.outbox) == 1 and '"app"' in mail.outbox[0].subject


@pytest.mark.django_db
def test_it_routes_alerts_only_to_channels_that_want_them(tenant_a, tenant_b):
    watched, other = budget(tenant_a), budget(tenant_a, amount="1000")
    email_channel(tenant_a, name="all", target="all@a.test")
    email_channel(tenant_a, name="watched", target="watched@a.test").budgets.set([watched])
    email_channel(tenant_a, name="other", target="other@a.test").budgets.set([other])
    email_channel(tenant_a, name="anomalies", target="anomaly@a.test", alert_kinds=["anomaly"])
    email_channel(tenant_a, name="off", target="off@a.test", enabled=False)
    email_channel(tenant_b, name="b", target="ops@b.test")
    spend(tenant_a, "6", NOW - timedelta(hours=1))
    run(NOW)
    assert sorted(m.to[0] for m in mail.outbox) == ["all@a.test", "watched@a.test"]


@pytest.mark.django_db
def test_it_flags_a_spend_anomaly_per_tenant_and_key_once_a_day(tenant_a):
    email_channel(tenant_a, alert_kinds=["anomaly"])
    noisy, steady = make_key(tenant_a, "noisy"), make_key(tenant_a, "steady")
    for day in range(1, 8):
        spend(tenant_a, "2", NOW - timedelta(days=day), key_id=noisy.pk)
        spend(tenant_a, "1", NOW - timedelta(days=day), key_id=steady.pk)
    spend(tenant_a, "30", NOW - timedelta(hours=1), key_id=noisy.pk)
    spend(tenant_a, "1", NOW - timedelta(hours=1), key_id=steady.pk)
    run(NOW)
    run(NOW + timedelta(minutes=1))
    events = {e.subject: e for e in AlertEvent.objects.filter(kind="anomaly")}
    assert set(events) == {"tenant", f"key:{noisy.pk}"}
    assert events[f"key:{noisy.pk}"].payload["ratio"] == "15.0"  # 30 USD vs 2 USD/day
    assert events["tenant"].payload["trailing_mean_usd"] == "3.000000"
    assert len(mail.outbox) == 2
    assert any('key "noisy" spent 30.00 USD on 2026-11-18, 15.0x' in m.body for m in mail.outbox)


@pytest.mark.django_db
def test_it_keeps_quiet_below_the_tenants_minimum_and_multiplier(tenant_a):
    for day in range(1, 8):
        spend(tenant_a, "2", NOW - timedelta(days=day))
    spend(tenant_a, "8", NOW - timedelta(hours=1))  # 4x the mean, but under the 10 USD default minimum
    run(NOW)
    assert not AlertEvent.objects.exists()
    rule = AlertSettings.objects.create(tenant=tenant_a, anomaly_min_usd=5, anomaly_multiplier=5)
    run(NOW + timedelta(minutes=1))  # 4x is under a 5x multiplier
    assert not AlertEvent.objects.exists()
    rule.anomaly_multiplier = 3
    rule.save()
    run(NOW + timedelta(minutes=2))
    assert AlertEvent.objects.filter(kind="anomaly", subject="tenant").count() == 1
    rule.anomaly_enabled = False
    rule.save()
    spend(tenant_a, "100", NOW + timedelta(days=1))
    run(NOW + timedelta(days=1, minutes=1))
    assert AlertEvent.objects.filter(kind="anomaly").count() == 1


def test_it_forecasts_the_exhaustion_date_at_the_current_burn_rate():
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    ten_days_in = start + timedelta(days=10)
    # 25 USD in 10 days = 2.5 USD/day; 15 USD left lasts 6 more days.
    runs_out = forecast_exhaustion(Decimal(25), Decimal(40), start, end, ten_days_in)
    assert runs_out.exhausted_at == datetime(2026, 11, 17, tzinfo=UTC)
    assert runs_out.burn_per_day_usd == Decimal("2.5")
    # 75 USD left would last 30 more days: past the period's end, so no exhaustion.
    assert forecast_exhaustion(Decimal(25), Decimal(100), start, end, ten_days_in).exhausted_at is None
    assert forecast_exhaustion(Decimal(0), Decimal(100), start, end, ten_days_in).exhausted_at is None
    assert forecast_exhaustion(Decimal(50), Decimal(40), start, end, ten_days_in).exhausted_at == ten_days_in
    # A total budget has no end: only the rate decides.
    assert forecast_exhaustion(Decimal(25), Decimal(100), start, None, ten_days_in).exhausted_at == datetime(
        2026, 12, 11, tzinfo=UTC
    )


def test_it_bounds_periods_by_the_tenants_calendar():
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # already 1 December in Tokyo (a Tuesday)
    assert period_bounds("monthly", tokyo, now) == (
        datetime(2026, 12, 1, tzinfo=tokyo).astimezone(UTC), datetime(2027, 1, 1, tzinfo=tokyo).astimezone(UTC)
    )
    assert period_bounds("weekly", tokyo, now)[0] == datetime(2026, 11, 30, tzinfo=tokyo).astimezone(UTC)
    berlin = ZoneInfo("Europe/Berlin")
    dst_end = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)  # a 25-hour day in Berlin
    start, end = period_bounds("daily", berlin, dst_end)
    assert end - start == timedelta(hours=25)


@pytest.mark.django_db
def test_it_states_the_forecast_in_the_alert(tenant_a):
    email_channel(tenant_a)
    budget(tenant_a, amount="40")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(10):
        spend(tenant_a, "2.5", start + timedelta(days=day, hours=1))
    run(start + timedelta(days=10))
    assert "At the current rate it runs out on 2026-11-17." in mail.outbox[0].body
    assert "Runs out:   2026-11-17" in mail.outbox[0].body
    assert "2026-11-17" in mail.outbox[0].alternatives[0][0]
