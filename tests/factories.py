"""Objects of one tenant, one factory per admin-API resource (used by the isolation tests)."""
import uuid

from django.utils import timezone

from billing.models import AlertChannel, AlertEvent, AlertSettings, Budget, PriceOverride, UsageRecord
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


def make_alert_channel(tenant):
    return AlertChannel.objects.create(tenant=tenant, name="ops", kind="email", target=f"ops@{tenant.slug}.test")


def make_alert_settings(tenant):
    return AlertSettings.objects.create(tenant=tenant)


def make_alert_event(tenant):
    budget = make_budget(tenant)
    return AlertEvent.objects.create(
        tenant=tenant, kind="threshold", budget=budget, threshold=50, subject="budget",
        period_start=budget.created_at, spent_usd="5", message="budget reached 50 %",
    )


def make_price_override(tenant):
    provider = make_provider(tenant, "priced-prov")
    return PriceOverride.objects.create(
        tenant=tenant, provider=provider, model="mock-1", input_per_mtok="1", output_per_mtok="2"
    )


def make_route_with_usage(tenant):
    """A route with one ledger row, so its variant figures have something to leak."""
    route = make_route(tenant, "variants")
    target = route.targets.get()
    UsageRecord.objects.create(
        event_id=uuid.uuid4(), request_id="req-variants", created_at=timezone.now(), tenant_id=tenant.pk,
        route_id=route.pk, route=route.name, provider_id=target.provider_id, provider=target.provider.name,
        model=target.model, ingress="openai", endpoint="chat", status=200, latency_ms=12.0, cost_usd="0.5",
    )
    return route


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
    "price-override": make_price_override,
    "price": make_route,  # the prices in force per route: a tenant's route
    "alert-channel": make_alert_channel,
    "alert-settings": make_alert_settings,
    "alert": make_alert_event,
    "route-cache": make_route,
    "route-variants": make_route_with_usage,
}

__all__ = ["ApiKey", "FACTORIES"]
