"""export_config: the database as an apply_config file, secrets omitted.

Only values that differ from the schema's defaults are written, in a stable
order, so export -> apply -> export reproduces the same text.
"""
from datetime import UTC
from decimal import Decimal

import yaml

from billing.models import DEFAULT_ALERT_THRESHOLDS, Budget
from billing.prices.config import prices_export
from gateway.models import ApiKey, Membership, Provider, Route, Tenant
from gateway.services.config_schema import escape_references

HEADER = "# Switchyard configuration exported by `manage.py export_config`; secrets are omitted.\n"


def config_export(tenant_slug=None):
    """The whole configuration, or one tenant's part of it, as plain data."""
    if tenant_slug is not None:
        tenant = Tenant.objects.filter(slug=tenant_slug).first()
        if tenant is None:
            raise LookupError(f"no tenant with slug {tenant_slug!r}")
        return _drop_empty({"tenants": [_tenant(tenant)]})
    return _drop_empty({
        "providers": [_provider(p) for p in Provider.objects.filter(tenant=None).order_by("name")],
        "routes": [_route(r) for r in _routes(tenant=None)],
        "prices": prices_export(None),
        "tenants": [_tenant(t) for t in Tenant.objects.order_by("slug")],
    })


class _Dumper(yaml.SafeDumper):
    """Block style, except that a list of scalars stays on one line (`fallbacks: [a, b]`)."""


def _represent_list(dumper, data):
    flow = bool(data) and all(isinstance(item, str | int | float | bool) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def config_dump(data):
    """YAML text for `config_export()` data; `${` is escaped so apply reads it back literally."""
    body = yaml.dump(escape_references(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return HEADER + body


def _drop_empty(data):
    return {k: v for k, v in data.items() if v not in ([], {}, None)}


def _put(data, key, value, default):
    if value != default:
        data[key] = value


def _sorted(value):
    """JSON column contents with mapping keys sorted (jsonb does not keep the written order)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _provider(provider):
    data = {"name": provider.name, "kind": provider.kind}
    _put(data, "base_url", provider.base_url, "")
    _put(data, "headers", _sorted(provider.headers), {})
    _put(data, "options", _sorted(provider.options), {})
    for name in ("connect_timeout", "first_byte_timeout", "idle_timeout"):
        _put(data, name, getattr(provider, name), None)
    _put(data, "enabled", provider.enabled, True)
    return data


def _routes(tenant):
    return Route.objects.filter(tenant=tenant).order_by("name").prefetch_related(
        "targets__provider", "fallback_links__fallback"
    )


def _route(route):
    data = {"name": route.name, "targets": [_target(t) for t in route.targets.all()]}
    _put(data, "fallbacks", [link.fallback.name for link in route.fallback_links.all()], [])
    _put(data, "description", route.description, "")
    _put(data, "strategy", route.strategy, Route.Strategy.WEIGHTED)
    for name in ("timeouts", "cache", "limits", "retry", "breaker", "canary"):
        _put(data, name, _sorted(getattr(route, name)), {})
    _put(data, "max_tokens_cap", route.max_tokens_cap, None)
    _put(data, "enabled", route.enabled, True)
    return data


def _target(target):
    data = {"provider": target.provider.name, "model": target.model}
    _put(data, "weight", target.weight, 1)
    _put(data, "limits", _sorted(target.limits), {})
    return data


def _tenant(tenant):
    data = {"slug": tenant.slug, "name": tenant.name}
    _put(data, "time_zone", tenant.time_zone, "UTC")
    _put(data, "limits", _sorted(tenant.limits), {})
    data["teams"] = [_team(t) for t in tenant.teams.order_by("name")]
    data["providers"] = [_provider(p) for p in Provider.objects.filter(tenant=tenant).order_by("name")]
    data["routes"] = [_route(r) for r in _routes(tenant)]
    members = Membership.objects.filter(tenant=tenant).select_related("user", "team").order_by("user__email")
    data["users"] = [_user(m) for m in members]
    keys = _live_keys(tenant)
    data["keys"] = [_key(k) for k in keys]
    data["budgets"] = _budgets(tenant, {k.pk for k in keys})
    data["prices"] = prices_export(tenant)
    return _drop_empty(data)


def _team(team):
    data = {"name": team.name}
    _put(data, "limits", _sorted(team.limits), {})
    return data


def _user(membership):
    data = {"email": membership.user.email, "role": membership.role}
    _put(data, "team", membership.team.name if membership.team else None, None)
    _put(data, "limits", _sorted(membership.limits), {})
    return data


def _live_keys(tenant):
    keys = ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).select_related("owner", "team")
    return list(keys.prefetch_related("routes").order_by("name", "id"))


def _key(key):
    data = {"name": key.name}
    _put(data, "owner", key.owner.email if key.owner else None, None)
    _put(data, "team", key.team.name if key.team else None, None)
    _put(data, "routes", sorted(r.name for r in key.routes.all()), [])
    _put(data, "limits", _sorted(key.limits), {})
    _put(data, "expires_at", key.expires_at.astimezone(UTC).isoformat() if key.expires_at else None, None)
    return data


def _budgets(tenant, live_key_ids):
    budgets = Budget.objects.filter(tenant=tenant).select_related("team", "api_key", "user", "route", "downgrade_route")
    # A budget on a revoked key has no live subject a file could name.
    rows = [_budget(b) for b in budgets if b.scope != Budget.Scope.KEY or b.api_key_id in live_key_ids]
    return sorted(rows, key=lambda b: (b["scope"], str(_subject(b)), b.get("period", ""), b.get("route", "")))


def _subject(data):
    return data.get(data["scope"], "")


def _budget(budget):
    data = {"scope": budget.scope}
    subject = {"team": budget.team, "key": budget.api_key, "user": budget.user}.get(budget.scope)
    if subject is not None:
        data[budget.scope] = getattr(subject, "email", None) or subject.name
    data["amount_usd"] = _number(budget.amount_usd)
    _put(data, "period", budget.period, Budget.Period.MONTHLY)
    _put(data, "action", budget.action, Budget.Action.BLOCK)
    _put(data, "route", budget.route.name if budget.route else None, None)
    _put(data, "downgrade_route", budget.downgrade_route.name if budget.downgrade_route else None, None)
    _put(data, "alert_thresholds", budget.alert_thresholds, DEFAULT_ALERT_THRESHOLDS)
    return data


def _number(amount):
    """A YAML number for a Decimal: int when whole; float otherwise (6 places survive repr round-trips)."""
    amount = Decimal(amount)
    return int(amount) if amount == amount.to_integral_value() else float(amount)
