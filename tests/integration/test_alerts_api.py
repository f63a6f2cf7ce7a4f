"""Alert channels, settings, history and budget status through the admin API.

Tenant isolation of these endpoints is covered by test_api_isolation.py via
tests/factories.py; this module checks what is specific to alerts.
"""
import time
from datetime import datetime, timedelta

import pytest
import redis
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from billing.alerts.status import budget_state, snapshot_of, snapshots_save
from billing.budgets import budget_info
from billing.models import AlertChannel, AlertEvent, Budget
from gateway.dataplane.budgets.plan import counter
from gateway.models import AuditEvent, Role
from tests.conftest import client_for, make_member
from tests.integration.test_alerts import run, spend

SECRET = "whsec-api-0123456789abcdef"
HOOK = "https://hooks.example.com/services/T000/B000/very-secret-token"


def create_channel(client, tenant, **fields):
    data = {"tenant": tenant.pk, "name": "hook", "kind": "webhook", "target": HOOK, "secret": SECRET, **fields}
    return client.post(reverse("alert-channel-list"), data, format="json")


@pytest.mark.django_db
def test_it_keeps_webhook_secrets_write_only_and_encrypted(tenant_a, admin_a):
    client = client_for(admin_a)
    response = create_channel(client, tenant_a)
    assert response.status_code == 201, response.content
    body = response.json()
    assert "secret" not in body and body["has_secret"] is True
    assert body["target"] == "https://hooks.example.com/…"
    with connection.cursor() as cursor:
        cursor.execute("SELECT target, secret FROM billing_alertchannel")
        stored = " ".join(cursor.fetchone())
    assert SECRET not in stored and "very-secret-token" not in stored
    assert SECRET not in str(list(AuditEvent.objects.values_list("after", flat=True)))
    url = reverse("alert-channel-detail", args=[body["id"]])
    assert client.put(url, {**body, "enabled": False}, format="json").status_code == 200  # masked target sent back
    channel = AlertChannel.objects.get()
    assert (channel.target, channel.secret, channel.enabled) == (HOOK, SECRET, False)


@pytest.mark.django_db
def test_it_validates_channel_targets_and_secrets(tenant_a, admin_a):
    client = client_for(admin_a)
    problems = [
        ({"secret": ""}, "secret"),
        ({"target": "ftp://example.com/x"}, "target"),
        ({"kind": "email", "target": "ops@a.test, not-an-address"}, "target"),
        ({"kind": "slack", "target": "hooks.slack.com/services/x"}, "target"),
        ({"alert_kinds": ["everything"]}, "alert_kinds"),
    ]
    for fields, field in problems:
        response = create_channel(client, tenant_a, **fields)
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (fields, response.json())
    assert create_channel(client, tenant_a, kind="email", target="ops@a.test; cfo@a.test", secret="").status_code == 201
    assert create_channel(client, tenant_a, kind="email", target="dup@a.test").status_code == 400  # same name


@pytest.mark.django_db
def test_it_refuses_another_tenants_budget_on_a_channel(tenant_a, tenant_b, admin_a):
    foreign = Budget.objects.create(tenant=tenant_b, scope="tenant", amount_usd="5")
    response = create_channel(client_for(admin_a), tenant_a, budgets=[foreign.pk])
    assert response.status_code == 400 and "budgets" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_it_lets_finance_manage_channels_but_not_developers(tenant_a):
    finance = make_member(tenant_a, "cfo@a.test", Role.FINANCE)
    developer = make_member(tenant_a, "dev@a.test", Role.DEVELOPER)
    assert create_channel(client_for(developer), tenant_a).status_code == 403
    response = create_channel(client_for(finance), tenant_a)
    assert response.status_code == 201
    url = reverse("alert-channel-detail", args=[response.json()["id"]])
    assert client_for(developer).delete(url).status_code == 403
    assert client_for(finance).patch(url, {"alert_kinds": ["anomaly"]}, format="json").json()["alert_kinds"] == [
        "anomaly"
    ]
    settings_url = reverse("alert-settings-list")
    rule = {"tenant": tenant_a.pk, "anomaly_multiplier": "4", "anomaly_min_usd": "25"}
    assert client_for(developer).post(settings_url, rule, format="json").status_code == 403
    assert client_for(finance).post(settings_url, rule, format="json").status_code == 201
    assert client_for(finance).post(settings_url, rule, format="json").status_code == 400  # one per tenant


@pytest.mark.django_db
def test_it_lists_alert_history_with_deliveries_and_filters(tenant_a, tenant_b, admin_a, member_ro):
    AlertChannel.objects.create(tenant=tenant_a, name="mail", kind="email", target="ops@a.test")
    limit = Budget.objects.create(tenant=tenant_a, scope="tenant", amount_usd="10")
    Budget.objects.create(tenant=tenant_b, scope="tenant", amount_usd="10")
    now = timezone.now()
    for tenant in (tenant_a, tenant_b):
        spend(tenant, "12", now - timedelta(minutes=5))  # thresholds and a first-day anomaly
    run(now)
    client = client_for(member_ro)
    listing = client.get(reverse("alert-list")).json()["results"]
    assert {row["tenant"] for row in listing} == {tenant_a.pk}
    assert sorted((r["kind"], r["threshold"]) for r in listing) == [
        ("anomaly", 0), ("threshold", 50), ("threshold", 80), ("threshold", 100)
    ]
    top = next(r for r in listing if r["threshold"] == 100)
    assert [(d["channel_name"], d["status"], d["attempts"]) for d in top["deliveries"]] == [("mail", "sent", 1)]
    only = client.get(reverse("alert-list"), {"kind": "threshold", "budget": limit.pk, "threshold": 80}).json()
    assert [r["threshold"] for r in only["results"]] == [80]
    later = (now + timedelta(hours=1)).isoformat()
    assert client.get(reverse("alert-list"), {"since": later}).json()["results"] == []
    assert client.get(reverse("alert-list"), {"since": "yesterday"}).status_code == 400
    assert client.get(reverse("alert-list"), {"budget": "x"}).status_code == 400
    event = AlertEvent.objects.filter(tenant=tenant_b).first()
    assert client.get(reverse("alert-detail", args=[event.pk])).status_code == 404


@pytest.mark.django_db
def test_it_reports_budget_status_with_the_forecast(tenant_a, member_ro):
    limit = Budget.objects.create(tenant=tenant_a, scope="tenant", amount_usd="40", period="monthly")
    url = reverse("budget-status", args=[limit.pk])
    before = client_for(member_ro).get(url).json()
    assert (before["spent_usd"], before["percent"], before["forecast_exhaustion_date"]) == ("0.000000", "0.00", None)
    now = timezone.now()
    start = budget_state(limit, now).period_start
    elapsed = now - start
    # Spend at a steady rate that runs out exactly halfway through the rest of the period.
    spend(tenant_a, "25", start + elapsed / 2)
    run(now)
    status = client_for(member_ro).get(url).json()
    assert status["spent_usd"] == "25.000000" and status["remaining_usd"] == "15.000000"
    assert status["percent"] == "62.50" and status["alerted_thresholds"] == [50]
    assert status["reserved_usd"] == "0.000000" and status["as_of"] is not None
    expected = now + elapsed * 15 / 25
    state = budget_state(limit, now)
    if expected < state.period_end:
        assert status["forecast_exhaustion_date"] == expected.date().isoformat()
    else:
        assert status["forecast_exhaustion_date"] is None


@pytest.mark.django_db
def test_it_reports_status_from_the_last_evaluation_not_the_ledger(tenant_a, admin_a):
    tenant_a.time_zone = "Asia/Tokyo"
    tenant_a.save()
    limit = Budget.objects.create(tenant=tenant_a, scope="tenant", amount_usd="100", period="total")
    evaluated = timezone.now()
    spend(tenant_a, "10", evaluated)
    snapshots_save([snapshot_of(budget_state(limit, evaluated))])
    spend(tenant_a, "50", evaluated + timedelta(seconds=1))  # not evaluated yet: the API must not sum the ledger
    status = client_for(admin_a).get(reverse("budget-status", args=[limit.pk])).json()
    assert status["spent_usd"] == "10.000000" and status["period_end"] is None
    assert datetime.fromisoformat(status["as_of"]) == evaluated


@pytest.mark.django_db
def test_it_reports_what_in_flight_calls_hold_from_the_reservation_counters(tenant_a, admin_a, settings):
    limit = Budget.objects.create(tenant=tenant_a, scope="tenant", amount_usd="10", period="daily")
    limit.refresh_from_db()  # the amount as a Decimal, as the API loads it
    key = counter(budget_info(limit), time.time()).key
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.hset(key, "r", 1_500_000)  # micro-dollars held by open reservations
    try:
        status = client_for(admin_a).get(reverse("budget-status", args=[limit.pk])).json()
    finally:
        client.delete(key)
    assert status["reserved_usd"] == "1.500000"
    settings.REDIS_URL = None  # embedded: each process has its own counters, so none can answer
    assert client_for(admin_a).get(reverse("budget-status", args=[limit.pk])).json()["reserved_usd"] is None
