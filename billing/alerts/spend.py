"""Spend from the ledger (the source of truth, with its re-rating adjustments), for alert evaluation in Celery only."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from billing.budgets import subject_id, subject_rows
from billing.effective_cost import cost_sum, re_rated
from billing.models import Budget, UsageRecord

ZERO = Decimal(0)


def budget_ledger(budget: Budget, start: datetime, end: datetime | None, now: datetime):
    """Ledger rows that count against `budget` from `start` until `now` (and before `end`)."""
    rows = subject_rows(budget.tenant_id, budget.scope, subject_id(budget), budget.route_id)
    rows = rows.filter(created_at__gte=start, created_at__lte=now)
    if end is not None:
        rows = rows.filter(created_at__lt=end)
    return rows


def budget_spent(budget: Budget, start: datetime, end: datetime | None, now: datetime) -> Decimal:
    """As of `now`, so the burn rate divides the spend by the time it took."""
    adjusted = re_rated([budget.tenant_id], start, now)
    return budget_ledger(budget, start, end, now).aggregate(total=cost_sum(adjusted))["total"] or ZERO


def daily_spend_by_key(tenant_id: int, window_start: datetime, today_start: datetime, now: datetime):
    """{key_id: (today until now, trailing window total)} in one grouped query; key None = no key."""
    adjusted = re_rated([tenant_id], window_start, now)
    rows = (
        UsageRecord.objects.filter(tenant_id=tenant_id, created_at__gte=window_start, created_at__lte=now)
        .order_by()  # the ledger's default ordering must not split the groups
        .values("key_id")
        .annotate(
            today=cost_sum(adjusted, filter=Q(created_at__gte=today_start)),
            trailing=cost_sum(adjusted, filter=Q(created_at__lt=today_start)),
        )
    )
    return {row["key_id"]: (row["today"] or ZERO, row["trailing"] or ZERO) for row in rows}


def tenants_with_recent_spend(since: datetime) -> list[int]:
    rows = UsageRecord.objects.filter(created_at__gte=since, tenant_id__isnull=False, cost_usd__gt=0)
    return list(rows.order_by("tenant_id").values_list("tenant_id", flat=True).distinct())
