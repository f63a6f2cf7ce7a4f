"""Unit prices per (provider, upstream model), resolved once per snapshot build.

genai-prices (~100 µs a call, billing/catalogue.py) is the default source; a
provider's `options.prices` overrides it per model, and dated PriceOverride
rows (billing/prices/book.py) override both per provider, tenant or route.
The hot path picks a window and multiplies decimals only.
"""
from __future__ import annotations

from decimal import Decimal

from billing.catalogue import GENAI_PROVIDER, GENAI_VERSION, SOURCE, unit_prices
from billing.prices.book import MILLION, PriceBook, per_token
from gateway.dataplane.snapshot import Price

__all__ = ["GENAI_PROVIDER", "GENAI_VERSION", "base_price", "cost_usd", "price_for", "price_table"]


def _override(provider, model):
    prices = (provider.options.get("prices") or {}).get(model)
    if not prices:
        return None
    keys = ("input_per_mtok", "output_per_mtok", "cached_per_mtok", "cache_write_per_mtok")
    per_m = {k: Decimal(str(prices.get(k, 0))) for k in keys}
    return Price(
        input=per_m["input_per_mtok"] / MILLION,
        output=per_m["output_per_mtok"] / MILLION,
        cached_input=(per_m["cached_per_mtok"] or per_m["input_per_mtok"]) / MILLION,
        cache_write=(per_m["cache_write_per_mtok"] or per_m["input_per_mtok"]) / MILLION,
        source=f"override:provider:{provider.id}",
    )


def _catalogue(provider_kind, model, at=None):
    units = unit_prices(provider_kind, model, at)
    if units is None:
        return None
    input_ = units.input / MILLION
    return Price(
        input=input_,
        output=units.output / MILLION,
        cached_input=per_token(units.cache_read, input_),
        cache_write=None if units.cache_write is None else units.cache_write / MILLION,
        source=SOURCE,
    )


def base_price(provider, model, at=None):
    """The price of (provider, model) without PriceOverrides: `options.prices`, else the catalogue at `at`."""
    return _override(provider, model) or _catalogue(provider.kind, model, at)


def price_table(providers, routes, overrides=()):
    """A PriceBook: base prices of every routed target, plus the given PriceOverride rows."""
    table = {}
    for route in routes:
        for target in route.targets:
            key = (target.provider.id, target.model)
            if key not in table:
                table[key] = base_price(target.provider, target.model)
    return PriceBook(table, overrides)


def price_for(prices, tenant_id, route_id, target, at: float) -> Price | None:
    """The price a call to `target` pays at `at` (epoch seconds); plain mappings hold base prices only."""
    if target is None:
        return None
    resolve = getattr(prices, "resolve", None)
    if resolve is None:
        return prices.get((target.provider.id, target.model))
    return resolve(tenant_id, route_id, target.provider.id, target.model, at)


def cost_usd(
    price: Price | None, input_tokens: int, output_tokens: int, cached_tokens: int = 0, cache_write_tokens: int = 0
) -> Decimal:
    """Exact decimal cost: cache reads at the cached rate, cache writes at the cache-write rate (else input)."""
    if price is None:
        return Decimal(0)
    uncached = max(input_tokens - cached_tokens - cache_write_tokens, 0)
    write_rate = price.input if price.cache_write is None else price.cache_write
    return (
        uncached * price.input + cached_tokens * price.cached_input + cache_write_tokens * write_rate
        + output_tokens * price.output
    )
