"""Budgets off the request path: the snapshot's budget table, ledger spend, and the reconcile job.

The data plane counts spend in Redis (gateway/dataplane/budgets/); the ledger
is the source of truth. `budgets_reconcile` recomputes each budget's spend in
its current period from the ledger, moves the counter to it, drops lapsed
reservations, and records what it repaired (BudgetReconciliation). Celery beat
runs it with Redis; embedded mode runs it on the in-process counters at every
snapshot build.

The usage stream reaches the ledger a little after a call settles, so only
calls that arrived before a cut (now minus RECONCILE_LAG_S) are compared; the
counters keep per-minute spend buckets for the calls after it.
"""
from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import TruncMinute

from billing.models import Budget, BudgetReconciliation, UsageRecord
from gateway.dataplane.budgets import money
from gateway.dataplane.budgets.periods import SECONDS_PER_MINUTE, minute_of, window
from gateway.dataplane.budgets.plan import BudgetInfo, counter, subject_index

log = logging.getLogger(__name__)
# The ledger trails the counters by the drain (every second) and spool replays: two minutes of
# margin, so a reconcile never mistakes a call still on its way to the ledger for drift.
RECONCILE_LAG_S = 120
ZERO = Decimal(0)
# Budget scope -> the ledger column holding its subject (tenant-wide budgets need none).
LEDGER_COLUMN = {"team": "team_id", "key": "key_id", "user": "user_id"}


def subject_id(b: Budget) -> int:
    return {"tenant": b.tenant_id, "team": b.team_id, "key": b.api_key_id, "user": b.user_id}[b.scope]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: budget periods use UTC", name)
        return "UTC"


def budget_info(b: Budget) -> BudgetInfo:
    return BudgetInfo(
        id=b.pk, tenant_id=b.tenant_id, scope=b.scope, subject_id=subject_id(b), name=b.subject_label,
        route_id=b.route_id, route_name=b.route.name if b.route_id else "",
        amount_micro=money.ceil_micro(b.amount_usd), period=b.period, action=b.action,
        downgrade_route_id=b.downgrade_route_id, time_zone=_zone(b.tenant.time_zone),
        created=b.created_at.timestamp(),
    )


def budget_infos() -> list[BudgetInfo]:
    rows = Budget.objects.select_related("tenant", "team", "api_key", "user", "route")
    return [budget_info(b) for b in rows]


def budget_table(infos: list[BudgetInfo]) -> MappingProxyType:
    """The snapshot's index: (scope, subject) -> the subject's budgets."""
    table: dict[tuple, list[BudgetInfo]] = {}
    for info in infos:
        table.setdefault(subject_index(info.scope, info.tenant_id, info.subject_id), []).append(info)
    return MappingProxyType({subject: tuple(budgets) for subject, budgets in table.items()})


def budget_snapshot() -> MappingProxyType:
    """For the snapshot builder. Embedded mode: also brings the in-process counters to the ledger."""
    infos = budget_infos()
    if not settings.REDIS_URL and infos:
        from gateway.dataplane.budgets.local import local_counters

        budgets_reconcile(local_counters(), infos, report_fresh=False)
    return budget_table(infos)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def subject_rows(tenant_id: int, scope: str, subject_id: int, route_id: int | None):
    """Ledger rows that count against a budget of this scope, subject and optional route."""
    rows = UsageRecord.objects.filter(tenant_id=tenant_id)
    if scope in LEDGER_COLUMN:
        rows = rows.filter(**{LEDGER_COLUMN[scope]: subject_id})
    if route_id is not None:
        rows = rows.filter(route_id=route_id)
    return rows


def ledger_spend(info: BudgetInfo, start: float, cut: float) -> tuple[int, dict[int, int]]:
    """From the ledger: (pico-dollars before the cut, {epoch minute: pico-dollars} from the cut on)."""
    rows = subject_rows(info.tenant_id, info.scope, info.subject_id, info.route_id).filter(created_at__gte=_at(start))
    before = rows.filter(created_at__lt=_at(cut)).aggregate(total=Sum("cost_usd"))["total"] or ZERO
    recent = (rows.filter(created_at__gte=_at(cut)).order_by()
              .values(minute=TruncMinute("created_at", tzinfo=UTC)).annotate(total=Sum("cost_usd")))
    return money.to_pico(before), {minute_of(r["minute"].timestamp()): money.to_pico(r["total"]) for r in recent}


def budgets_reconcile(store, infos: list[BudgetInfo] | None = None, now: float | None = None,
                      report_fresh: bool = True) -> list[BudgetReconciliation]:
    """Repair every budget's current-period counter from the ledger; returns the repairs recorded.

    report_fresh=False: a counter that did not exist is being initialised (an embedded server's
    first snapshot), which is not drift.
    """
    now = time.time() if now is None else now
    cut_minute = int((now - RECONCILE_LAG_S) // SECONDS_PER_MINUTE)
    infos = budget_infos() if infos is None else infos
    repairs = []
    for info in infos:
        span = window(info.period, info.time_zone, now, info.created)
        before, recent = ledger_spend(info, span.start, cut_minute * SECONDS_PER_MINUTE)
        result = store.reconcile(counter(info, now), cut_minute, before, recent)
        drifted = result.drift_pico and (report_fresh or not result.fresh)
        if drifted or result.lapsed:
            repairs.append(_record(info, span, before + sum(recent.values()), result))
    log.info("budgets reconciled with the ledger: %d counters, %d repaired", len(infos), len(repairs))
    return repairs


def _record(info: BudgetInfo, span, ledger_pico: int, result) -> BudgetReconciliation:
    drift = money.pico_to_usd(result.drift_pico)
    log.warning("budget %s (%s, period %s) repaired from the ledger: %s USD, %d lapsed reservations released",
                info.id, info.describe(), span.label, format(drift, "+f"), result.lapsed)
    return BudgetReconciliation.objects.create(
        budget_id=info.id, period=span.label, period_start=_at(span.start),
        ledger_usd=money.pico_to_usd(ledger_pico), drift_usd=drift,
        lapsed_reservations=result.lapsed, reserved_usd=money.micro_to_usd(result.reserved_micro),
    )


def budget_status(budget: Budget, store, now: float | None = None):
    """The counter of a budget's current period (spent, reserved, open reservations)."""
    return store.status(counter(budget_info(budget), time.time() if now is None else now))
