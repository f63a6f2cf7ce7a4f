"""Home, the API catalogue, the playground and "my usage"."""
from django.contrib.auth.decorators import login_required
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from gateway.console.htmx import render_page
from gateway.console.tenancy import build_context
from gateway.models import Membership
from portal.access import LOGIN_URL, portal_view
from portal.selectors import USAGE_DAYS, budget_states, catalogue_routes, usage_by_day, usage_totals
from portal.snippets import base_url, quick_start
from portal.views.keys import my_keys


@require_safe
@login_required(login_url=LOGIN_URL)
def home(request):
    """The landing page; also where a signed-in user who belongs to no tenant yet is told what to do."""
    request.console = build_context(request)
    keys = my_keys(request).filter(revoked_at__isnull=True).count() if request.console.tenant else 0
    return render_page(request, "portal/home.html", None, {"live_keys": keys})


@require_safe
@portal_view()
def catalogue(request):
    routes = catalogue_routes(request.console.tenant)
    example = routes[0].route.name if routes else "your-route"
    return render_page(request, "portal/catalogue.html", None, {
        "routes": routes, "base_url": base_url(), "snippets": quick_start(example), "example": example,
        "docs_url": reverse("api-docs")})


@require_safe
@portal_view()
def playground(request):
    """The page only: the browser calls the data plane directly with a key the user pastes (never sent here)."""
    names = [entry.route.name for entry in catalogue_routes(request.console.tenant)]
    return render_page(request, "portal/playground.html", None, {"route_names": names,
                                                                "endpoint": "/v1/chat/completions"})


def _key_rows(keys, states, now):
    rows = []
    for key in keys:
        status = "revoked" if key.revoked_at else ("expired" if key.expires_at and key.expires_at <= now else "active")
        rows.append({"key": key, "status": status, "budgets": states.get(key.pk, [])})
    return rows


@require_safe
@portal_view()
def usage(request):
    tenant, now = request.console.tenant, timezone.now()
    keys = list(my_keys(request).order_by("revoked_at", "name", "id"))
    days = usage_by_day(tenant, [k.pk for k in keys], now)
    states = budget_states(tenant, request.user, keys, now)
    membership = Membership.objects.filter(tenant=tenant, user=request.user).first()
    return render_page(request, "portal/usage.html", None, {
        "days": days, "totals": usage_totals(days), "usage_days": USAGE_DAYS,
        "key_rows": _key_rows(keys, states, now), "user_budgets": states.get("user", []),
        "member_limits": membership.limits if membership else {}})
