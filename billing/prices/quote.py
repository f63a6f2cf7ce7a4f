"""The price a call to a route target would pay now, as the price API and the portal show it."""
from django.utils import timezone

from billing.models import PriceOverride
from billing.prices.book import MILLION, PriceBook
from billing.prices.services import overrides_in_force
from gateway.dataplane.pricing import base_price


class Quoter:
    """Prices targets at one moment from the overrides in force then (one query), with the data
    plane's precedence: tenant+route > route > tenant+provider > provider, else the list price."""

    def __init__(self, now=None):
        self.now = now or timezone.now()
        self.overrides = {o.pk: o for o in overrides_in_force(self.now)}
        self.book = PriceBook({}, self.overrides.values())

    def quote(self, tenant_id, route, target) -> dict:
        window = self.book.window(tenant_id, route.pk, target.provider_id, target.model, self.now.timestamp())
        override = self.overrides[window.override_id] if window else None
        price = window.price if window else base_price(target.provider, target.model)
        hourly = override is not None and override.unit == PriceOverride.Unit.HOUR
        return {
            "provider": target.provider_id, "provider_name": target.provider.name, "model": target.model,
            "unit": PriceOverride.Unit.HOUR if hourly else PriceOverride.Unit.TOKEN,
            "input_per_mtok": None if hourly else _per_mtok(price and price.input),
            "output_per_mtok": None if hourly else _per_mtok(price and price.output),
            "cached_input_per_mtok": None if hourly else _per_mtok(price and price.cached_input),
            "cache_write_per_mtok": None if hourly else _per_mtok(price and _cache_write(price)),
            "per_hour_usd": str(override.per_hour_usd) if hourly else None,
            "source": price.source if price else None,
            "override": override.pk if override else None,
            "valid_to": override.valid_to if override else None,
        }


def _per_mtok(per_token):
    return None if per_token is None else format((per_token * MILLION).normalize(), "f")


def _cache_write(price):
    return price.input if price.cache_write is None else price.cache_write
