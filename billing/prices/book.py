"""Which price is in force for a call: dated overrides by scope, over a base price per target.

Pure data, no ORM (the data plane asks it per call). The snapshot holds one
built from the overrides not yet expired when it was built, future ones
included, and picks the window covering the call's own start time: a price
ends exactly at its valid_to, however old the snapshot. Re-rating builds one
from every override ever set and asks it about past moments.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from gateway.dataplane.snapshot import Price

MILLION = Decimal(1_000_000)
OPEN_END = float("inf")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Window:
    start: float  # epoch seconds, inclusive
    end: float  # epoch seconds, exclusive (OPEN_END: until further notice)
    price: Price
    override_id: int


def scope_keys(tenant_id, route_id, provider_id, model):
    """Where a call's price may be set, most specific first (tenant+route > route > tenant+provider > provider)."""
    keys = []
    if route_id is not None:
        if tenant_id is not None:
            keys.append((tenant_id, route_id, provider_id, model))
        keys.append((None, route_id, provider_id, model))
    if tenant_id is not None:
        keys.append((tenant_id, None, provider_id, model))
    keys.append((None, None, provider_id, model))
    return keys


def per_token(per_mtok: Decimal | None, fallback: Decimal) -> Decimal:
    return fallback if per_mtok is None else per_mtok / MILLION


def override_price(o) -> Price:
    """A PriceOverride as the data plane's per-token Price (hourly prices cost 0 per call)."""
    if o.unit == "hour":
        return Price(input=ZERO, output=ZERO, cached_input=ZERO, cache_write=ZERO, source=o.version)
    input_ = per_token(o.input_per_mtok, ZERO)
    return Price(
        input=input_,
        output=per_token(o.output_per_mtok, ZERO),
        cached_input=per_token(o.cached_input_per_mtok, input_),
        cache_write=per_token(o.cache_write_per_mtok, input_),
        source=o.version,
    )


def window_of(o) -> Window:
    end = o.valid_to.timestamp() if o.valid_to is not None else OPEN_END
    return Window(o.valid_from.timestamp(), end, override_price(o), o.pk)


class PriceBook(Mapping):
    """(provider id, upstream model) -> base Price, plus dated overrides resolved per call.

    As a Mapping it is the base table the snapshot always had, so `prices.get((provider_id, model))`
    keeps working; `resolve()` is the price a call pays.
    """

    __slots__ = ("_base", "_windows")

    def __init__(self, base: Mapping | None = None, overrides: Iterable = ()):
        self._base = dict(base or {})
        windows: dict[tuple, list[Window]] = {}
        for o in overrides:
            windows.setdefault((o.tenant_id, o.route_id, o.provider_id, o.model), []).append(window_of(o))
        # Latest start first: with non-overlapping windows the first one covering a moment is the one.
        self._windows = {k: tuple(sorted(v, key=lambda w: -w.start)) for k, v in windows.items()}

    def __getitem__(self, key):
        return self._base[key]

    def __iter__(self):
        return iter(self._base)

    def __len__(self):
        return len(self._base)

    def window(self, tenant_id, route_id, provider_id, model, at: float) -> Window | None:
        """The override window in force for this call at `at` (epoch seconds), if any."""
        if not self._windows:
            return None
        for key in scope_keys(tenant_id, route_id, provider_id, model):
            for w in self._windows.get(key, ()):
                if w.start <= at < w.end:
                    return w
        return None

    def resolve(self, tenant_id, route_id, provider_id, model, at: float) -> Price | None:
        found = self.window(tenant_id, route_id, provider_id, model, at)
        return found.price if found is not None else self._base.get((provider_id, model))
