"""Deciding alerts: each one once per threshold per period, anomalies once per subject per day.

The decision and its deliveries are written in one transaction; the unique
constraints on AlertEvent make a concurrent or repeated evaluation a no-op.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from billing.alerts import messages
from billing.alerts.periods import add_local_days, local_midnight, tenant_zone
from billing.alerts.spend import daily_spend_by_key, tenants_with_recent_spend
from billing.alerts.status import BudgetState, budget_state, snapshot_of, snapshots_save
from billing.models import AlertChannel, AlertDelivery, AlertEvent, AlertKind, AlertSettings, Budget
from gateway.models import ApiKey, Tenant

log = logging.getLogger(__name__)


def channels_for(tenant_id: int, kind: str, budget_id: int | None = None) -> list[AlertChannel]:
    channels = AlertChannel.objects.filter(tenant_id=tenant_id, enabled=True).prefetch_related("budgets")
    return [c for c in channels if c.receives(kind, budget_id)]


def deliveries_create(event: AlertEvent, channels: list[AlertChannel], now: datetime) -> None:
    AlertDelivery.objects.bulk_create(
        AlertDelivery(event=event, channel=c, channel_kind=c.kind, channel_name=c.name, next_attempt_at=now)
        for c in channels
    )


# --- budget thresholds ----------------------------------------------------------


def thresholds_evaluate(now: datetime) -> list[AlertEvent]:
    """Evaluate every budget; also refresh the spend snapshots the status API reads."""
    created, snapshots = [], []
    budgets = Budget.objects.select_related("tenant", "team", "api_key", "user").order_by("id")
    for budget in budgets.iterator(chunk_size=500):
        try:
            state = budget_state(budget, now)
            snapshots.append(snapshot_of(state))
            created += budget_alerts_record(state, now)
        except Exception:  # noqa: BLE001 - one broken budget must not silence the others
            log.exception("alert evaluation failed for budget %s", budget.pk)
    snapshots_save(snapshots)
    return created


def budget_alerts_record(state: BudgetState, now: datetime) -> list[AlertEvent]:
    """Record newly crossed thresholds; only the highest is sent, lower ones are superseded.

    Jumping from 10 % to 85 % in one minute sends one message (80 %), not two,
    but 50 % is still recorded so it will not fire later in this period.
    """
    budget = state.budget
    crossed = state.crossed_thresholds()
    if not crossed:
        return []
    done = set(
        AlertEvent.objects.filter(budget=budget, period_start=state.period_start, kind=AlertKind.THRESHOLD)
        .values_list("threshold", flat=True)
    )
    fresh = [t for t in crossed if t not in done]
    if not fresh:
        return []
    top, events = max(fresh), []
    with transaction.atomic():
        for threshold in fresh:
            payload = messages.threshold_payload(state, threshold)
            event, created = AlertEvent.objects.get_or_create(
                budget=budget, period_start=state.period_start, kind=AlertKind.THRESHOLD, threshold=threshold,
                defaults={
                    "tenant_id": budget.tenant_id, "subject": "budget", "spent_usd": state.spent,
                    "superseded": threshold != top, "payload": payload,
                    "message": messages.threshold_text(budget.tenant.slug, payload),
                },
            )
            if created:
                events.append(event)
                if threshold == top:
                    deliveries_create(event, channels_for(budget.tenant_id, AlertKind.THRESHOLD, budget.pk), now)
    return events


# --- spend anomalies -----------------------------------------------------------------


def anomalies_evaluate(now: datetime) -> list[AlertEvent]:
    created = []
    # Every time zone's "today" began less than a day ago.
    for tenant_id in tenants_with_recent_spend(now - timedelta(days=1)):
        try:
            created += tenant_anomalies_record(Tenant.objects.get(pk=tenant_id), now)
        except Exception:  # noqa: BLE001 - one tenant's failure must not silence the others
            log.exception("anomaly evaluation failed for tenant %s", tenant_id)
    return created


def anomaly_rule(tenant: Tenant) -> AlertSettings:
    """The tenant's settings row, or an unsaved one holding the documented defaults."""
    return AlertSettings.objects.filter(tenant=tenant).first() or AlertSettings(tenant=tenant)


def anomaly_candidates(tenant: Tenant, rule: AlertSettings, today_start: datetime, now: datetime):
    """(subject, key_id, today, trailing mean) for the tenant and for each of its keys."""
    window_start = add_local_days(today_start, -rule.anomaly_window_days, tenant_zone(tenant.time_zone))
    by_key = daily_spend_by_key(tenant.pk, window_start, today_start, now)
    days = Decimal(rule.anomaly_window_days)
    today = sum((t for t, _ in by_key.values()), Decimal(0))
    trailing = sum((w for _, w in by_key.values()), Decimal(0))
    yield "tenant", None, today, trailing / days
    for key_id, (key_today, key_trailing) in by_key.items():
        if key_id is not None:
            yield f"key:{key_id}", key_id, key_today, key_trailing / days


def is_anomalous(today: Decimal, mean: Decimal, rule: AlertSettings) -> bool:
    return today >= rule.anomaly_min_usd and today > rule.anomaly_multiplier * mean


def tenant_anomalies_record(tenant: Tenant, now: datetime) -> list[AlertEvent]:
    rule = anomaly_rule(tenant)
    if not rule.anomaly_enabled:
        return []
    zone = tenant_zone(tenant.time_zone)
    today_start = local_midnight(now, zone)
    done = set(
        AlertEvent.objects.filter(tenant=tenant, kind=AlertKind.ANOMALY, period_start=today_start)
        .values_list("subject", flat=True)
    )
    hits = [
        c for c in anomaly_candidates(tenant, rule, today_start, now)
        if c[0] not in done and is_anomalous(c[2], c[3], rule)
    ]
    names = dict(ApiKey.objects.filter(pk__in=[c[1] for c in hits if c[1]]).values_list("pk", "name"))
    day = today_start.astimezone(zone).date()
    events = []
    for subject, key_id, today, mean in hits:
        key_name = names.get(key_id, f"#{key_id}") if key_id else None  # a deleted key keeps its id
        payload = messages.anomaly_payload(subject, day, today, mean, rule, key_name)
        event = anomaly_event_record(tenant, subject, today_start, today, payload, now)
        if event is not None:
            events.append(event)
    return events


def anomaly_event_record(tenant, subject, day_start, today, payload, now) -> AlertEvent | None:
    with transaction.atomic():
        event, created = AlertEvent.objects.get_or_create(
            tenant=tenant, kind=AlertKind.ANOMALY, subject=subject, period_start=day_start, budget=None,
            defaults={"spent_usd": today, "payload": payload, "message": messages.anomaly_text(tenant.slug, payload)},
        )
        if created:
            deliveries_create(event, channels_for(tenant.pk, AlertKind.ANOMALY), now)
    return event if created else None
