"""Per-variant figures of routes: what each provider/model target did, from the usage ledger.

A variant is one (provider, upstream model) a route sent requests to: with a
canary or A-B split, the arms of the experiment. Rows are the ledger's, so a
variant removed from the route still shows while it has rows in the window;
requests no target served (every breaker open, say) belong to no variant.
"""
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum

from analytics.aggregates import Percentile
from billing.models import UsageRecord

CLIENT_GONE = 499  # the ledger's status for a client that disconnected: not the variant's error


def route_variants(routes, *, since, until=None, tenant_ids=None):
    """{route id: [variant figures]} for these routes; tenant_ids=None: every tenant's rows."""
    rows = UsageRecord.objects.filter(route_id__in=[r.pk for r in routes], created_at__gte=since,
                                      provider_id__isnull=False)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    if tenant_ids is not None:
        rows = rows.filter(tenant_id__in=tenant_ids)
    grouped = rows.values("route_id", "provider_id", "provider", "model").annotate(
        requests=Count("id"),
        errors=Count("id", filter=Q(status__gte=400) & ~Q(status=CLIENT_GONE)),
        latency_avg_ms=Avg("latency_ms"),
        latency_p50_ms=Percentile("latency_ms", 0.5),
        latency_p95_ms=Percentile("latency_ms", 0.95),
        ttfb_avg_ms=Avg("ttfb_ms"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cost_usd=Sum("cost_usd"),
    ).order_by("route_id", "provider", "model")  # also keeps the model's -created_at out of GROUP BY
    found: dict[int, dict[tuple, dict]] = {r.pk: {} for r in routes}
    for row in grouped:
        found[row.pop("route_id")][(row["provider_id"], row["model"])] = _figures(row)
    return {r.pk: _with_targets(r, found[r.pk]) for r in routes}


def _figures(row):
    row["error_rate"] = row["errors"] / row["requests"] if row["requests"] else 0.0
    row["cost_usd"] = row["cost_usd"] or Decimal(0)
    return row


def _with_targets(route, figures):
    """Configured targets first (with their weight, zeros when idle), then former ones."""
    variants = []
    for target in route.targets.all():
        row = figures.pop((target.provider_id, target.model), None) or _idle(target)
        variants.append({**row, "weight": target.weight})
    variants.extend({**row, "weight": None} for row in figures.values())
    return variants


def _idle(target):
    return {
        "provider_id": target.provider_id, "provider": target.provider.name, "model": target.model,
        "requests": 0, "errors": 0, "error_rate": 0.0, "latency_avg_ms": None, "latency_p50_ms": None,
        "latency_p95_ms": None, "ttfb_avg_ms": None, "input_tokens": 0, "output_tokens": 0, "cost_usd": Decimal(0),
    }
