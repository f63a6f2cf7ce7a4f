"""The `prices:` sections of a config file (shared, and per tenant): check, apply, export.

An override is identified by (tenant, route, provider, model, valid_from); a
file states every window explicitly (an open-ended price followed by a newer
one needs its valid_to), so export -> apply -> export is a fixed point.
"""
from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from django.core.exceptions import ValidationError

from billing.models import PriceOverride
from billing.prices.services import price_override_save
from gateway.models import Provider, Route
from gateway.services.routes import route_for_name

PRICE_QUANTUM = Decimal("0.000001")  # PriceOverride's price columns keep 6 decimal places
AMOUNTS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok", "cache_write_per_mtok", "per_hour_usd")


# --- check -----------------------------------------------------------------------------------------


def prices_check(problems, config):
    """Unknown providers/routes, duplicates and overlapping windows, each at its path in the file."""
    shared_providers = {p.name for p in config.providers} | _stored(Provider, tenant=None)
    shared_routes = {r.name for r in config.routes} | _stored(Route, tenant=None)
    sections = [("prices", None, config.prices, shared_providers, shared_routes)]
    for i, tenant in enumerate(config.tenants):
        providers = shared_providers | {p.name for p in tenant.providers} | _stored(Provider, tenant__slug=tenant.slug)
        routes = shared_routes | {r.name for r in tenant.routes} | _stored(Route, tenant__slug=tenant.slug)
        sections.append((f"tenants[{i}].prices", tenant.slug, tenant.prices, providers, routes))
    for at, slug, specs, providers, routes in sections:
        for j, spec in enumerate(specs):
            if spec.provider not in providers:
                problems.append((f"{at}[{j}].provider", f"unknown provider {spec.provider!r}"))
            if spec.route is not None and spec.route not in routes:
                problems.append((f"{at}[{j}].route", f"unknown route {spec.route!r}"))
        _check_windows(problems, at, slug, specs)


def _stored(model, **filters):
    return set(model.objects.filter(**filters).values_list("name", flat=True))


def _scope(slug, spec):
    return (slug, spec.route, spec.provider, spec.model)


def _check_windows(problems, at, slug, specs):
    """Windows of one scope, from the file and from stored rows the file does not list, must not overlap."""
    windows = {}  # scope -> [(start, end, where)]
    listed = set()
    for j, spec in enumerate(specs):
        key = (*_scope(slug, spec), spec.valid_from)
        if key in listed:
            problems.append((f"{at}[{j}]", "same route, provider, model and valid_from as an earlier entry"))
            continue
        listed.add(key)
        windows.setdefault(_scope(slug, spec), []).append((spec.valid_from, spec.valid_to, f"{at}[{j}]"))
    for row in _stored_rows(slug):
        scope = (slug, row.route.name if row.route else None, row.provider.name, row.model)
        if scope in windows and (*scope, row.valid_from) not in listed:
            windows[scope].append((row.valid_from, row.valid_to, f"stored override {row.pk}"))
    for entries in windows.values():
        entries.sort(key=lambda e: e[0])
        for (_s, end, first), (start, _e, where) in zip(entries, entries[1:], strict=False):
            if end is None or end > start:
                problems.append((where, f"its window overlaps {first}'s (set valid_to on the earlier one)"))


def _stored_rows(slug):
    rows = PriceOverride.objects.select_related("route", "provider")
    return rows.filter(tenant__slug=slug) if slug else rows.filter(tenant=None)


# --- apply -----------------------------------------------------------------------------------------


def prices_apply(upsert, tenant, specs):
    """Upsert one section with the applier's `upsert`, in valid_from order (no transient overlaps)."""
    for spec in sorted(specs, key=lambda s: s.valid_from):
        provider = Provider.objects.filter(tenant=tenant, name=spec.provider).first()
        provider = provider or Provider.objects.get(tenant=None, name=spec.provider)
        route = route_for_name(tenant, spec.route) if spec.route else None
        lookup = {"tenant": tenant, "route": route, "provider": provider, "model": spec.model,
                  "valid_from": spec.valid_from}
        values = {name: _quantized(getattr(spec, name)) for name in AMOUNTS}
        values |= {"unit": spec.unit.value, "valid_to": spec.valid_to, "note": spec.note}
        upsert("price", _label(tenant, spec), PriceOverride, lookup, values, save=_save)


def _quantized(amount):
    return None if amount is None else amount.quantize(PRICE_QUANTUM)


def _label(tenant, spec):
    where = "/".join(filter(None, [tenant.slug if tenant else None, spec.route, spec.provider]))
    return f"{where}:{spec.model}@{spec.valid_from.astimezone(UTC).isoformat()}"


def _save(override):
    try:
        price_override_save(override)
    except ValidationError as exc:
        from gateway.services.config_schema import ConfigError

        label = f"price {override.provider.name}:{override.model}@{override.valid_from.isoformat()}"
        raise ConfigError("apply_config", [(label, "; ".join(exc.messages))]) from None


# --- export ----------------------------------------------------------------------------------------


def prices_export(tenant):
    """One section (tenant=None: the shared one) as config-file data, in a stable order."""
    rows = PriceOverride.objects.filter(tenant=tenant).select_related("route", "provider")
    data = [_exported(row) for row in rows]
    return sorted(data, key=lambda d: (d.get("route", ""), d["provider"], d["model"], d["valid_from"]))


def _exported(row):
    data = {"provider": row.provider.name, "model": row.model}
    if row.route is not None:
        data["route"] = row.route.name
    if row.unit != PriceOverride.Unit.TOKEN:
        data["unit"] = row.unit
    for name in AMOUNTS:
        value = getattr(row, name)
        if value is not None:
            data[name] = _number(value)
    data["valid_from"] = row.valid_from.astimezone(UTC).isoformat()
    if row.valid_to is not None:
        data["valid_to"] = row.valid_to.astimezone(UTC).isoformat()
    if row.note:
        data["note"] = row.note
    return data


def _number(amount):
    """int when whole, else float (6 decimal places survive the YAML round trip)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)
