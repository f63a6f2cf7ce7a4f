"""Objects of one tenant, one factory per admin-API resource (used by the isolation tests)."""
from billing.models import Budget
from gateway.models import ApiKey, AuditEvent, Membership, Provider, ProviderKind, Role, Route, Team, User
from gateway.services.keys import key_create
from gateway.services.routes import route_save


def make_provider(tenant, name="prov"):
    return Provider.objects.create(tenant=tenant, name=name, kind=ProviderKind.MOCK, api_key="sk-canary-provider")


def make_route(tenant, name="route"):
    provider = make_provider(tenant, f"{name}-prov")
    return route_save(Route(tenant=tenant, name=name), targets=[(provider, "mock-1", 1)])


def make_team(tenant, name="team"):
    return Team.objects.create(tenant=tenant, name=name)


def make_key(tenant, name="key", owner=None):
    key, _secret = key_create(tenant=tenant, name=name, owner=owner)
    return key


def make_membership(tenant, email=None):
    user = User.objects.create_user(email=email or f"member@{tenant.slug}.test", password="x-unused-pw-1")
    return Membership.objects.create(tenant=tenant, user=user, role=Role.DEVELOPER)


def make_budget(tenant):
    return Budget.objects.create(tenant=tenant, scope=Budget.Scope.TENANT, amount_usd="10")


def make_audit_event(tenant):
    make_team(tenant, "audited")
    return AuditEvent.objects.filter(tenant=tenant).order_by("-id").first()


# basename in gateway.api.urls.router -> factory(tenant) -> object owned by that tenant
FACTORIES = {
    "tenant": lambda tenant: tenant,
    "team": make_team,
    "membership": make_membership,
    "key": make_key,
    "provider": make_provider,
    "route": make_route,
    "budget": make_budget,
    "audit-event": make_audit_event,
}

__all__ = ["ApiKey", "FACTORIES"]
