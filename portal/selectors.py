"""Portal reads: the API catalogue, a developer's usage per day, and the budget/limit status of their keys.

Every query is bounded: usage reads only the caller's keys over the last USAGE_DAYS days, from the
day rollups (analytics) where they exist and from the ledger only for the days they do not cover yet.
"""
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

from django.db.models import Count, Prefetch, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.models import Granularity, Grouping, UsageRollup
from billing.alerts.periods import period_bounds, tenant_zone
from billing.alerts.status import BudgetState
from billing.catalogue import GENAI_PROVIDER, catalogue_entries
from billing.models import Budget, UsageRecord
from billing.models_alerts import BudgetSpendSnapshot
from billing.prices.quote import Quoter
from gateway.models import Route, RouteTarget

USAGE_DAYS = 30  # "my usage" covers the last 30 days, today included
ZERO = Decimal(0)


# --- catalogue -------------------------------------------------------------------------------------

@dataclass
class TargetEntry:
    provider: str
    kind: str
    model: str
    context_window: int | None
    input_per_mtok: str | None
    output_per_mtok: str | None
    per_hour_usd: str | None = None  # a dedicated deployment priced by the hour
    negotiated: bool = False  # a price override for this tenant, route or provider is in force


@dataclass
class RouteEntry:
    route: Route
    shared: bool
    targets: list = field(default_factory=list)


@lru_cache(maxsize=512)  # the bundled catalogue only changes with the genai-prices package
def context_window(kind, model):
    if kind not in GENAI_PROVIDER:
        return None
    entries = catalogue_entries(provider=kind, model=model)
    return entries[0]["context_window"] if entries else None


def _target_entry(quote, target):
    return TargetEntry(
        provider=target.provider.name, kind=target.provider.kind, model=target.model,
        context_window=context_window(target.provider.kind, target.model),
        input_per_mtok=quote["input_per_mtok"], output_per_mtok=quote["output_per_mtok"],
        per_hour_usd=quote["per_hour_usd"] and format(Decimal(quote["per_hour_usd"]).normalize(), "f"),
        negotiated=quote["override"] is not None)


def catalogue_routes(tenant):
    """The enabled routes a member of `tenant` may call, by public name (a tenant route shadows a shared one,
    as Snapshot.routes_for_key does)."""
    targets = RouteTarget.objects.select_related("provider").order_by("position", "id")
    routes = (Route.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True), enabled=True)
              .prefetch_related(Prefetch("targets", queryset=targets)).order_by("name"))
    by_name = {}
    for route in sorted(routes, key=lambda r: r.tenant_id is not None):  # shared first, own ones overwrite
        by_name[route.name] = route
    quoter = Quoter()  # the price a call made now pays, negotiated prices included
    entries = []
    for name in sorted(by_name):
        route = by_name[name]
        targets = [_target_entry(quoter.quote(tenant.pk, route, t), t) for t in route.targets.all()]
        entries.append(RouteEntry(route, route.tenant_id is None, targets))
    return entries


# --- usage -----------------------------------------------------------------------------------------

SUMS = ("requests", "input_tokens", "output_tokens", "cost_usd")


def _empty_day(day):
    return {"day": day, "requests": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": ZERO}


def _add(total, row):
    for name in SUMS:
        total[name] += row[name] or 0


def usage_by_day(tenant, key_ids, now=None):
    """[{day, requests, input_tokens, output_tokens, cost_usd}] for the last USAGE_DAYS local days, oldest first.

    Two queries whatever the row count: the day/key rollups, then the ledger from the newest rolled-up day
    on (that day may have been rolled up while still in progress), both limited to `key_ids`.
    """
    zone = tenant_zone(tenant.time_zone)
    today = (now or timezone.now()).astimezone(zone).date()
    first = today - timedelta(days=USAGE_DAYS - 1)
    days = {first + timedelta(days=i): _empty_day(first + timedelta(days=i)) for i in range(USAGE_DAYS)}
    key_ids = list(key_ids)
    if not key_ids:
        return list(days.values())
    rollups = (UsageRollup.objects.filter(tenant_id=tenant.pk, granularity=Granularity.DAY, grouping=Grouping.KEY,
                                          key_id__in=key_ids, day__gte=first, day__lte=today)
               .values("day").annotate(**{n: Sum(n) for n in SUMS}))
    rolled = {row["day"]: row for row in rollups}
    ledger_from = max(rolled) if rolled else first
    for day, row in rolled.items():
        if day < ledger_from:
            _add(days[day], row)
    since = datetime.combine(ledger_from, time.min, tzinfo=zone)
    ledger = (UsageRecord.objects.filter(tenant_id=tenant.pk, key_id__in=key_ids, created_at__gte=since)
              .annotate(local_day=TruncDate("created_at", tzinfo=zone)).values("local_day")
              .annotate(**{n: Sum(n) for n in SUMS if n != "requests"},
                        requests=Count("id")))
    for row in ledger:
        if row["local_day"] in days:
            _add(days[row["local_day"]], row)
    return list(days.values())


def usage_totals(days):
    total = _empty_day(None)
    for row in days:
        _add(total, row)
    return total


# --- key status ------------------------------------------------------------------------------------

def budget_states(tenant, user, keys, now=None):
    """{key id or "user": [BudgetState]} for budgets on these keys and on the user, from the spend
    snapshots the alert evaluation writes (billing/alerts/status.py), in two queries."""
    now = now or timezone.now()
    budgets = list(Budget.objects.filter(Q(scope=Budget.Scope.KEY, api_key__in=keys)
                                         | Q(scope=Budget.Scope.USER, user=user), tenant=tenant).order_by("id"))
    snapshots = {s.budget_id: s for s in BudgetSpendSnapshot.objects.filter(budget__in=[b.pk for b in budgets])}
    zone = tenant_zone(tenant.time_zone)
    states = {}
    for budget in budgets:
        start, end = period_bounds(budget.period, zone, now, budget.created_at)
        snap = snapshots.get(budget.pk)
        spent, as_of = (snap.spent_usd, snap.computed_at) if snap and snap.period_start == start else (ZERO, start)
        subject = budget.api_key_id if budget.scope == Budget.Scope.KEY else "user"
        states.setdefault(subject, []).append(BudgetState(budget, zone, start, end, Decimal(spent), as_of))
    return states

