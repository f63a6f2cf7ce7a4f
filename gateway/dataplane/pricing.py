"""Unit prices per (provider, upstream model), resolved once per snapshot build.

genai-prices (~100 µs a call) is the default source; a provider's
`options.prices` overrides it per model. The hot path multiplies decimals only.
"""
from __future__ import annotations

from decimal import Decimal

from gateway.dataplane.snapshot import Price

MILLION = Decimal(1_000_000)
# Switchyard provider kinds -> genai-prices provider ids.
GENAI_PROVIDER = {
    "openai": "openai",
    "azure_openai": "azure",
    "anthropic": "anthropic",
    "gemini": "google",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "together": "together",
    "openrouter": "openrouter",
}


def _genai_version():
    try:
        from importlib.metadata import version

        return version("genai-prices")
    except Exception:  # pragma: no cover - metadata always present when installed
        return "unknown"


GENAI_VERSION = _genai_version()


def _override(provider, model):
    prices = (provider.options.get("prices") or {}).get(model)
    if not prices:
        return None
    per_m = {k: Decimal(str(prices.get(k, 0))) for k in ("input_per_mtok", "output_per_mtok", "cached_per_mtok")}
    return Price(
        input=per_m["input_per_mtok"] / MILLION,
        output=per_m["output_per_mtok"] / MILLION,
        cached_input=(per_m["cached_per_mtok"] or per_m["input_per_mtok"]) / MILLION,
        source=f"override:provider:{provider.id}",
    )


def _catalogue(provider_kind, model):
    from genai_prices import Usage, calc_price

    provider_id = GENAI_PROVIDER.get(provider_kind)
    if provider_id is None:
        return None
    try:
        unit = calc_price(Usage(input_tokens=1_000_000, output_tokens=1_000_000), model, provider_id=provider_id)
        cached = calc_price(Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000), model, provider_id=provider_id)
    except LookupError:
        return None
    return Price(
        input=unit.input_price / MILLION,
        output=unit.output_price / MILLION,
        cached_input=cached.input_price / MILLION,
        source=f"genai-prices:{GENAI_VERSION}",
    )


def price_table(providers, routes):
    table = {}
    for route in routes:
        for target in route.targets:
            key = (target.provider.id, target.model)
            if key not in table:
                table[key] = _override(target.provider, target.model) or _catalogue(target.provider.kind, target.model)
    return table


def cost_usd(price: Price | None, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> Decimal:
    """Exact decimal cost; cached input tokens are billed at the cached rate."""
    if price is None:
        return Decimal(0)
    uncached = max(input_tokens - cached_tokens, 0)
    return uncached * price.input + cached_tokens * price.cached_input + output_tokens * price.output
