"""Dashboards: requests, errors, latency, tokens, cost and cache hits over time, from the rollups only.

Every number is a sum over `analytics.UsageRollup` (kept a few minutes behind
the ledger by `rollup_recent`); no dashboard request reads the raw ledger.
Without filters the TENANT grouping is read (exact percentiles per bucket);
with one filter, that dimension's grouping; with several (or for a developer,
who sees only their own keys) the DETAIL rows, whose percentiles are combined
as a request-weighted mean and flagged as approximate.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.db.models import F, FloatField, Max, Sum
from django.db.models.functions import Cast
from django.utils import timezone
from django.views.decorators.http import require_safe

from analytics.models import Granularity, Grouping, UsageRollup
from gateway.console.htmx import render_page
from gateway.console.tenancy import console_view
from gateway.models import ApiKey, Role, Team

# name -> (label, granularity, span)
RANGES = {
    "24h": ("Last 24 hours", Granularity.HOUR, timedelta(hours=24)),
    "7d": ("Last 7 days", Granularity.HOUR, timedelta(days=7)),
    "30d": ("Last 30 days", Granularity.DAY, timedelta(days=30)),
    "90d": ("Last 90 days", Granularity.DAY, timedelta(days=90)),
}
# filter field -> rollup column; the order is the drill-down order
FILTERS = {"team": "team_id", "key": "key_id", "route": "route", "provider": "provider", "model": "model"}
SUMS = ("requests", "errors", "cache_hits", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")


class DashboardFilterForm(forms.Form):
    range = forms.ChoiceField(choices=[(k, v[0]) for k, v in RANGES.items()], required=False, initial="24h")
    team = forms.IntegerField(required=False, min_value=1)
    key = forms.IntegerField(required=False, min_value=1)
    route = forms.CharField(required=False, max_length=100)
    provider = forms.CharField(required=False, max_length=100)
    model = forms.CharField(required=False, max_length=200)

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {FILTERS[n]: v for n, v in self.cleaned_data.items() if n in FILTERS and v not in (None, "")}

    def range_name(self) -> str:
        return (self.is_valid() and self.cleaned_data.get("range")) or "24h"


def own_key_ids(request):
    """Developers see only their own keys' traffic; None: the whole tenant."""
    if request.console.role != Role.DEVELOPER:
        return None
    return list(ApiKey.objects.filter(tenant=request.console.tenant, owner=request.user).values_list("id", flat=True))


def grouping_for(filters: dict, restricted: bool) -> str:
    if restricted or len(filters) > 1:
        return Grouping.DETAIL
    if not filters:
        return Grouping.TENANT
    return next(name for name, column in FILTERS.items() if column in filters)


def series(tenant, range_name: str, filters: dict, key_ids, now=None) -> dict:
    """One point per bucket with the sums, rates and latency percentiles."""
    _label, granularity, span = RANGES[range_name]
    now = now or timezone.now()
    grouping = grouping_for(filters, key_ids is not None)
    rows = UsageRollup.objects.filter(tenant_id=tenant.pk, granularity=granularity, grouping=grouping,
                                      bucket_start__gte=now - span, bucket_start__lte=now, **filters)
    if key_ids is not None:
        rows = rows.filter(key_id__in=key_ids)
    exact = grouping != Grouping.DETAIL
    weighted = {f"w_{p}": Sum(F(p) * Cast("requests", FloatField())) for p in ("latency_p50_ms", "latency_p95_ms")}
    # The weighted sums first: after `requests=Sum(...)`, F("requests") would mean that aggregate.
    points = list(rows.values("bucket_start").annotate(
        **weighted, **{name: Sum(name) for name in SUMS}, p50=Max("latency_p50_ms"), p95=Max("latency_p95_ms"),
    ).order_by("bucket_start"))
    return {"points": [_point(p, exact) for p in points], "exact": exact, "granularity": granularity}


def _point(row: dict, exact: bool) -> dict:
    requests = row["requests"] or 0
    p50, p95 = (row["p50"], row["p95"]) if exact else (
        (row["w_latency_p50_ms"] or 0) / requests if requests else None,
        (row["w_latency_p95_ms"] or 0) / requests if requests else None)
    return {
        "t": row["bucket_start"].isoformat(),
        "requests": requests, "errors": row["errors"] or 0,
        "error_rate": round(100 * (row["errors"] or 0) / requests, 2) if requests else 0,
        "cache_hit_rate": round(100 * (row["cache_hits"] or 0) / requests, 2) if requests else 0,
        "p50": round(p50, 1) if p50 is not None else None, "p95": round(p95, 1) if p95 is not None else None,
        "input_tokens": row["input_tokens"] or 0, "output_tokens": row["output_tokens"] or 0,
        "cost_usd": float(row["cost_usd"] or Decimal(0)),
    }


def summary(points: list[dict]) -> dict:
    requests = sum(p["requests"] for p in points)
    errors = sum(p["errors"] for p in points)
    return {
        "requests": requests, "errors": errors,
        "error_rate": round(100 * errors / requests, 2) if requests else 0,
        "tokens": sum(p["input_tokens"] + p["output_tokens"] for p in points),
        "cost_usd": sum(Decimal(str(p["cost_usd"])) for p in points),
        "cache_hit_rate": round(sum(p["cache_hit_rate"] * p["requests"] for p in points) / requests, 2)
        if requests else 0,
    }


def choices(tenant, key_ids) -> dict:
    """Values for the filter selects: teams and keys of the tenant, names seen in the rollups."""
    keys = ApiKey.objects.filter(tenant=tenant).order_by("name")
    if key_ids is not None:
        keys = keys.filter(id__in=key_ids)
    names = UsageRollup.objects.filter(tenant_id=tenant.pk, granularity=Granularity.DAY, grouping=Grouping.DETAIL)
    if key_ids is not None:
        names = names.filter(key_id__in=key_ids)
    triples = set(names.values_list("route", "provider", "model").distinct()[:2000])
    return {
        "teams": list(Team.objects.filter(tenant=tenant).order_by("name").values_list("id", "name")),
        "keys": list(keys.values_list("id", "name")),
        "routes": sorted({r for r, _p, _m in triples if r}),
        "providers": sorted({p for _r, p, _m in triples if p}),
        "models": sorted({m for _r, _p, m in triples if m}),
    }


@require_safe
@console_view()
def dashboard(request):
    tenant, key_ids = request.console.tenant, own_key_ids(request)
    form = DashboardFilterForm(request.GET or None)
    data = series(tenant, form.range_name(), form.filters(), key_ids)
    return render_page(request, "console/dashboard.html", "htmx/dashboard_body.html", {
        "form": form, "range_name": form.range_name(), "ranges": [(k, v[0]) for k, v in RANGES.items()],
        "chart": data, "summary": summary(data["points"]), "choices": choices(tenant, key_ids),
        "developer_only": key_ids is not None,
    })
