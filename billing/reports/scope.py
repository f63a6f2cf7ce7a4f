"""Who may read cost reports: owners, admins and finance of a tenant.

Tenants the caller cannot see at all are 404 (as everywhere in the API);
a tenant it belongs to with another role (developer, viewer) is 403.
Developers see their own usage in the portal, not here.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from rest_framework import exceptions

from analytics.rollups import zone_of
from gateway.models import Role, Team, Tenant

READERS = (Role.OWNER, Role.ADMIN, Role.FINANCE)
FORBIDDEN = "cost reports are for owners, admins and finance"


def visible_tenants(access):
    scope = access.tenant_filter("id")
    tenants = Tenant.objects.all()
    return tenants if scope is None else tenants.filter(**scope)


def readable_tenants(access, slug: str | None = None) -> list[Tenant]:
    """The tenants whose reports the caller may read (all of them, or the one named)."""
    tenants = visible_tenants(access)
    if slug is not None:
        tenants = tenants.filter(slug=slug)
        if not tenants.exists():
            raise exceptions.NotFound()
    readable = [tenant for tenant in tenants if access.has_role(tenant.pk, READERS)]
    if not readable:
        raise exceptions.PermissionDenied(FORBIDDEN)
    return readable


def readable_team(tenant: Tenant, team_id: int) -> Team:
    """A team of a readable tenant; another tenant's team is 404."""
    team = Team.objects.filter(tenant=tenant, pk=team_id).first()
    if team is None:
        raise exceptions.NotFound()
    return team


def reference_zone(tenants: list[Tenant]) -> ZoneInfo:
    """The zone that decides "this month" and "today": the tenant's if there is one, else UTC."""
    return zone_of(tenants[0].time_zone) if len(tenants) == 1 else ZoneInfo("UTC")
