"""Finance views: cost by dimension and day with drill-down, month over month, forecast, budgets, alerts.

Every figure comes from `billing.reports.queries` (sums over the day rollups),
the same functions as the REST reports and their CSV/PDF exports, which this
page links to, so the page and the downloads always agree.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from rest_framework import serializers

from analytics.rollups import zone_of
from billing.alerts.periods import period_bounds
from billing.alerts.status import BudgetState
from billing.models import AlertEvent, Budget, BudgetSpendSnapshot
from billing.reports.params import CostParams, Query, month_bounds, resolve_dates, rollup_filters
from billing.reports.queries import cost_rows, forecast, month_over_month, totals
from gateway.console.htmx import render_page
from gateway.console.tenancy import MONEY_WRITERS, console_view

# Where a row of one dimension drills down to next.
DRILL = {"tenant": "team", "team": "key", "key": "route", "route": "model", "provider": "model", "user": "key"}
DIMENSION_CHOICES = ["tenant", "team", "key", "user", "route", "provider", "model"]
FILTER_NAMES = ("team", "key", "user", "route", "provider", "model")
ALERTS_SHOWN = 20


def parse(request, today):
    """(validated params, errors) from the query string; invalid input falls back to the defaults."""
    data = {k: v for k, v in request.GET.items() if k != "tenant"}
    params = CostParams(data=data)
    if not params.is_valid():
        return {}, params.errors
    try:
        first, last = resolve_dates(params.validated_data, today)
    except serializers.ValidationError as exc:  # dates out of order or too far apart
        return {}, exc.detail
    return {**params.validated_data, "from": first, "to": last}, {}


def _filter_value(value):
    return "none" if value is None else value


def drill_links(request, data, rows):
    """For each row: the URL narrowing to it (next dimension) and the URL of its days."""
    dimension = data["dimension"]
    base = {k: v for k, v in request.GET.items() if k not in ("dimension", "period", "tenant")}
    for row in rows:
        narrowed = dict(base) if dimension == "tenant" else {**base, dimension: _filter_value(row["value"])}
        row["drill_url"] = "?" + urlencode({**narrowed, "dimension": DRILL.get(dimension, "model")}) \
            if dimension in DRILL else None
        row["days_url"] = "?" + urlencode({**narrowed, "dimension": dimension, "period": "day"})
    return rows


def exports(tenant, data, month):
    filters = {name: _filter_value(data[name]) for name in FILTER_NAMES if name in data}
    common = {"tenant": tenant.slug, "dimension": data["dimension"], **filters}
    period = {"from": data["from"].isoformat(), "to": data["to"].isoformat(), "period": data["period"]}
    statement = {"tenant": tenant.slug, "month": month}
    return {
        "cost_csv": f"{reverse('report-cost-csv')}?{urlencode({**common, **period})}",
        "mom_csv": f"{reverse('report-mom-csv')}?{urlencode({**common, 'month': month.strftime('%Y-%m')})}",
        "forecast_csv": f"{reverse('report-forecast-csv')}?{urlencode({**common, 'month': month.strftime('%Y-%m')})}",
        "focus_csv": f"{reverse('report-focus-csv')}?{urlencode({'tenant': tenant.slug, **period})}",
        "statement_pdf": reverse("statement-pdf", kwargs=statement),
        "statement_csv": reverse("statement-csv", kwargs=statement),
    }


def budget_states(tenant, now):
    """Each budget's last evaluated standing (two queries however many budgets)."""
    budgets = list(Budget.objects.filter(tenant=tenant).select_related("tenant", "team", "api_key", "user", "route"))
    snapshots = {s.budget_id: s for s in BudgetSpendSnapshot.objects.filter(budget__tenant=tenant)}
    zone, states = zone_of(tenant.time_zone), []
    for budget in budgets:
        start, end = period_bounds(budget.period, zone, now, budget.created_at)
        snap = snapshots.get(budget.pk)
        fresh = snap is not None and snap.period_start == start
        states.append(BudgetState(budget, zone, start, end, snap.spent_usd if fresh else 0, snap.computed_at if fresh
                                  else start))
    return states


@require_safe
@console_view(read=MONEY_WRITERS)
def costs(request):
    tenant, now = request.console.tenant, timezone.now()
    today = now.astimezone(zone_of(tenant.time_zone)).date()
    data, errors = parse(request, today)
    if not data:
        data = {"dimension": "tenant", "period": "month", "from": today.replace(day=1), "to": today}
    filters = rollup_filters(data)
    query = Query([tenant], data["from"], data["to"], data["dimension"], data["period"], filters)
    rows = drill_links(request, data, cost_rows(query))
    month = today.replace(day=1)
    month_query = Query([tenant], *month_bounds(month), data["dimension"], "month", filters)
    alerts = AlertEvent.objects.filter(tenant=tenant).select_related(
        "budget__tenant", "budget__team", "budget__api_key", "budget__user").order_by("-created_at", "-id")
    return render_page(request, "console/costs.html", None, {
        "data": data, "errors": errors, "rows": rows, "totals": totals(rows),
        "filters": [(name, _filter_value(data[name])) for name in FILTER_NAMES if name in data],
        "dimensions": DIMENSION_CHOICES, "month": month,
        "mom": month_over_month(month_query, month, today), "forecast": forecast(month_query, month, now),
        "budgets": budget_states(tenant, now), "alerts": alerts[:ALERTS_SHOWN],
        "exports": exports(tenant, data, month),
    })
