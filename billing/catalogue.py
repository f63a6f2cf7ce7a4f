"""The default price source: genai-prices' bundled data (offline), as unit prices and a browsable list.

No ORM here: the snapshot builder asks it for unit prices off the request path
(~100 µs a lookup), the API and `manage.py prices` list it, and re-rating asks
for the price at a past moment (genai-prices dates its price changes).

Tiered prices (e.g. Gemini above 200k prompt tokens) are priced at their base
tier: the snapshot holds one unit price per model, and the base tier is what
almost every call pays.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version

from genai_prices import Usage, calc_price
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ModelPrice, TieredPrices

# Switchyard provider kinds -> genai-prices provider ids (kinds not listed are not in the catalogue).
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
        return version("genai-prices")
    except PackageNotFoundError:  # pragma: no cover - metadata always present when installed
        return "unknown"


GENAI_VERSION = _genai_version()
SOURCE = f"genai-prices:{GENAI_VERSION}"


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """USD per million tokens; None: the catalogue has no separate price for that class."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None
    cache_write: Decimal | None
    tiered: bool
    dated: bool  # the model's price depends on the call's time (dated changes, time-of-day discounts)


def _base(price) -> Decimal | None:
    return price.base if isinstance(price, TieredPrices) else price


def unit_prices(kind: str, model: str, at: datetime | None = None) -> UnitPrices | None:
    """The catalogue's prices for a provider kind's model at `at` (None: now), or None if unknown."""
    provider_id = GENAI_PROVIDER.get(kind)
    if provider_id is None or not model:
        return None
    try:
        calc = calc_price(Usage(), model, provider_id=provider_id, genai_request_timestamp=at)
    except LookupError:
        return None
    return _units(calc.model_price, dated=_dated(calc.model))


def _dated(model) -> bool:
    return not isinstance(model.prices, ModelPrice) or bool(model.price_variants)


def _units(mp: ModelPrice, dated: bool) -> UnitPrices | None:
    input_, output = _base(mp.input_mtok), _base(mp.output_mtok)
    if input_ is None and output is None:
        return None  # priced per request, image or second only: not a token price
    return UnitPrices(
        input=input_ or Decimal(0),
        output=output or Decimal(0),
        cache_read=_base(mp.cache_read_mtok),
        cache_write=_base(mp.cache_write_mtok),
        tiered=any(isinstance(getattr(mp, k), TieredPrices) for k in ("input_mtok", "output_mtok", "cache_read_mtok")),
        dated=dated,
    )


def genai_provider_id(name: str) -> str:
    """A Switchyard kind (`gemini`) or a genai-prices id (`google`) as the genai-prices id."""
    name = name.strip().lower()
    return GENAI_PROVIDER.get(name, name)


def catalogue_entries(provider: str | None = None, model: str | None = None) -> list[dict]:
    """The catalogue's models with today's prices, optionally for one provider and/or model reference.

    `model` is matched as the data plane matches it (aliases and dated names
    resolve to their catalogue model), not as a substring.
    """
    now = datetime.now(tz=UTC)
    providers = get_snapshot().providers
    if provider:
        wanted = genai_provider_id(provider)
        providers = [p for p in providers if p.id == wanted]
    entries = []
    for p in providers:
        models = p.models
        if model:
            found = p.find_model(model.lower())
            models = [found] if found is not None else []
        for m in models:
            entry = _entry(p, m, now)
            if entry is not None:
                entries.append(entry)
    return entries


def _entry(provider, model, now) -> dict | None:
    units = _units(model.get_prices(now), dated=_dated(model))
    if units is None:
        return None
    return {
        "provider": provider.id,
        "provider_name": provider.name,
        "model": model.id,
        "name": model.name or model.id,
        "context_window": model.context_window,
        "deprecated": bool(model.deprecated),
        "input_per_mtok": _text(units.input),
        "output_per_mtok": _text(units.output),
        "cached_input_per_mtok": _text(units.cache_read),
        "cache_write_per_mtok": _text(units.cache_write),
        "tiered": units.tiered,
        "source": SOURCE,
    }


def _text(value: Decimal | None) -> str | None:
    """A price as exact text without exponent noise (Decimal("1E+1") -> "10")."""
    if value is None:
        return None
    return format(value.normalize(), "f")
