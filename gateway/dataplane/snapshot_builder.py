"""Builds a Snapshot from the database. Runs in a worker thread, never per request."""
from __future__ import annotations

import time
from types import MappingProxyType

from django.conf import settings
from django.db.models import Prefetch

from billing.budgets import budget_snapshot
from billing.prices.services import overrides_in_force
from gateway.dataplane.canonical import Target, Timeouts
from gateway.dataplane.pricing import price_table
from gateway.dataplane.resilience.policy import route_policy
from gateway.dataplane.snapshot import KeyInfo, LimitOwner, ProviderInfo, RouteInfo, Snapshot, TargetInfo
from gateway.models import ApiKey, Membership, Provider, Route, RouteFallback, RouteTarget, Team, Tenant


def _frozen(mapping):
    return MappingProxyType(dict(mapping or {}))


def _provider(p: Provider) -> ProviderInfo:
    return ProviderInfo(
        id=p.pk,
        name=p.name,
        kind=p.kind,
        base_url=p.effective_base_url.rstrip("/"),
        api_key=p.api_key or "",
        headers=_frozen(p.headers),
        options=_frozen(p.options),
        connect_timeout=p.connect_timeout,
        first_byte_timeout=p.first_byte_timeout,
        idle_timeout=p.idle_timeout,
    )


def _timeouts(provider: ProviderInfo, route_timeouts) -> Timeouts:
    """Route settings win over the provider's, which win over the process defaults."""
    return Timeouts(
        connect=route_timeouts.get("connect") or provider.connect_timeout or settings.UPSTREAM_CONNECT_TIMEOUT,
        first_byte=route_timeouts.get("first_byte")
        or provider.first_byte_timeout
        or settings.UPSTREAM_FIRST_BYTE_TIMEOUT,
        idle=route_timeouts.get("idle") or provider.idle_timeout or settings.UPSTREAM_IDLE_TIMEOUT,
    )


def _target(provider: ProviderInfo, model: str, weight: int, route_timeouts, limits=None, ident=0,
            position=0) -> TargetInfo:
    wire = Target(
        provider_kind=provider.kind,
        base_url=provider.base_url,
        api_key=provider.api_key,
        model=model,
        headers=dict(provider.headers),
        options=dict(provider.options),
        timeouts=_timeouts(provider, route_timeouts or {}),
    )
    return TargetInfo(provider=provider, model=model, weight=weight, wire=wire, limits=_frozen(limits), id=ident,
                      position=position)


def _routes(providers):
    routes = Route.objects.filter(enabled=True).prefetch_related(
        Prefetch("targets", queryset=RouteTarget.objects.order_by("position", "id")),
        Prefetch("fallback_links", queryset=RouteFallback.objects.order_by("position")),
    )
    result = []
    for r in routes:
        targets = tuple(
            _target(providers[t.provider_id], t.model, t.weight, r.timeouts, t.limits, t.pk, t.position)
            for t in r.targets.all()
            if t.provider_id in providers
        )
        result.append(
            RouteInfo(
                id=r.pk,
                tenant_id=r.tenant_id,
                name=r.name,
                strategy=r.strategy,
                targets=targets,
                fallback_ids=tuple(link.fallback_id for link in r.fallback_links.all()),
                timeouts=_frozen(r.timeouts),
                cache=_frozen(r.cache),
                limits=_frozen(r.limits),
                max_tokens_cap=r.max_tokens_cap,
                created=int(r.created_at.timestamp()),
                retry=_frozen(r.retry),
                breaker=_frozen(r.breaker),
                canary=_frozen(r.canary),
                policy=route_policy(r.strategy, r.retry, r.breaker, r.canary, r.timeouts, targets),
            )
        )
    return result


def _keys():
    by_prefix: dict[str, list[KeyInfo]] = {}
    for k in ApiKey.objects.usable().prefetch_related("routes"):
        route_ids = frozenset(r.pk for r in k.routes.all())
        info = KeyInfo(
            id=k.pk,
            prefix=k.prefix,
            secret_hash=k.secret_hash,
            tenant_id=k.tenant_id,
            team_id=k.team_id,
            user_id=k.owner_id,
            name=k.name,
            route_ids=route_ids or None,
            limits=_frozen(k.limits),
            expires_at=k.expires_at.timestamp() if k.expires_at else None,
        )
        by_prefix.setdefault(k.prefix, []).append(info)
    return {prefix: tuple(infos) for prefix, infos in by_prefix.items()}


def _limit_owners():
    """Tenants, teams and members whose limits apply to their keys (only those that set any, or a team)."""
    tenants = {t.pk: LimitOwner(t.slug, _frozen(t.limits)) for t in Tenant.objects.exclude(limits={})}
    teams = {t.pk: LimitOwner(t.name, _frozen(t.limits)) for t in Team.objects.exclude(limits={})}
    members = {}
    rows = Membership.objects.exclude(limits={}, team__isnull=True).values_list(
        "tenant_id", "user_id", "user__email", "team_id", "limits")
    for tenant_id, user_id, email, team_id, limits in rows:
        members[(tenant_id, user_id)] = LimitOwner(email, _frozen(limits), team_id)
    return MappingProxyType(tenants), MappingProxyType(teams), MappingProxyType(members)


def build_snapshot(version: int) -> Snapshot:
    providers = {p.pk: _provider(p) for p in Provider.objects.filter(enabled=True)}
    routes = _routes(providers)
    tenant_limits, team_limits, member_limits = _limit_owners()
    return Snapshot(
        version=version,
        built_at=time.time(),
        keys_by_prefix=MappingProxyType(_keys()),
        routes_by_id=MappingProxyType({r.id: r for r in routes}),
        routes_by_name=MappingProxyType({(r.tenant_id, r.name): r for r in routes}),
        # A PriceBook: read-only like the other maps, and resolves dated overrides per call.
        prices=price_table(providers.values(), routes, overrides_in_force()),
        tenant_limits=tenant_limits,
        team_limits=team_limits,
        member_limits=member_limits,
        budgets=budget_snapshot(),
    )
