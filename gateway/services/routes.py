"""Route writes: the route row with its ordered targets and fallbacks, atomically."""
from django.db import transaction

from gateway.models import Route, RouteFallback, RouteTarget


@transaction.atomic
def route_save(route, *, targets=None, fallbacks=None):
    """Save `route`; when given, replace its targets [(provider, model, weight[, limits])] and fallbacks [Route]."""
    route.full_clean(exclude=["tenant"])
    route.save()
    if targets is not None:
        _replace_targets(route, targets)
    if fallbacks is not None:
        _replace_fallbacks(route, fallbacks)
    return route


def _replace_targets(route, targets):
    targets = [(p, model, weight, rest[0] if rest else {}) for p, model, weight, *rest in targets]
    wanted = [(p.pk, model, weight, limits) for p, model, weight, limits in targets]
    current = [(t.provider_id, t.model, t.weight, t.limits) for t in route.targets.all()]
    if wanted == current:
        return  # unchanged: no delete/insert churn in the audit log
    route.targets.all().delete()
    for position, (provider, model, weight, limits) in enumerate(targets):
        RouteTarget.objects.create(route=route, provider=provider, model=model, weight=weight, position=position,
                                   limits=limits)


def _replace_fallbacks(route, fallbacks):
    wanted = [f.pk for f in fallbacks]
    if wanted == [link.fallback_id for link in route.fallback_links.all()]:
        return
    if route.pk in wanted:
        raise ValueError("a route cannot fall back to itself")
    route.fallback_links.all().delete()
    for position, fallback in enumerate(fallbacks):
        RouteFallback.objects.create(route=route, fallback=fallback, position=position)


def route_for_name(tenant, name):
    """The route a tenant's client reaches with this model name: its own first, else the shared one."""
    return (
        Route.objects.filter(name=name, tenant=tenant).first()
        or Route.objects.filter(name=name, tenant__isnull=True).first()
    )
