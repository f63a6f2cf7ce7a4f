"""Hand-built routes, targets and a fake clock for the balancing and breaker unit tests."""
from __future__ import annotations

import random
from decimal import Decimal
from types import MappingProxyType, SimpleNamespace

from gateway.dataplane.canonical import Target
from gateway.dataplane.resilience import Resilience
from gateway.dataplane.resilience.policy import route_policy
from gateway.dataplane.snapshot import Price, ProviderInfo, RouteInfo, TargetInfo

EMPTY = MappingProxyType({})


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def provider(ident: int, kind: str = "mock") -> ProviderInfo:
    return ProviderInfo(id=ident, name=f"p{ident}", kind=kind, base_url="", api_key="", headers=EMPTY,
                        options=EMPTY, connect_timeout=None, first_byte_timeout=None, idle_timeout=None)


def target(ident: int, weight: int = 1, model: str = "m", kind: str = "mock") -> TargetInfo:
    return TargetInfo(provider=provider(ident, kind), model=model, weight=weight, wire=Target(kind, model=model),
                      id=ident, position=ident)


def route(ident=1, weights=(1, 1), strategy="weighted", retry=None, breaker=None, canary=None, timeouts=None,
          fallbacks=(), name=None):
    targets = tuple(target(ident * 10 + i, w) for i, w in enumerate(weights))
    retry, breaker, canary, timeouts = (MappingProxyType(x or {}) for x in (retry, breaker, canary, timeouts))
    return RouteInfo(
        id=ident, tenant_id=None, name=name or f"r{ident}", strategy=strategy, targets=targets,
        fallback_ids=tuple(fallbacks), timeouts=timeouts, cache=EMPTY, limits=EMPTY, max_tokens_cap=None,
        created=0, retry=retry, breaker=breaker, canary=canary,
        policy=route_policy(strategy, retry, breaker, canary, timeouts, targets),
    )


def prices(**by_target):
    """prices(t10=(1, 2)) -> the snapshot's price table for target id 10 at $1 in, $2 out per token."""
    table = {}
    for name, (per_in, per_out) in by_target.items():
        ident = int(name[1:])
        table[(ident, "m")] = Price(Decimal(per_in), Decimal(per_out), Decimal(per_in), "test")
    return table


def snapshot(*routes_, price_table=None):
    return SimpleNamespace(routes_by_id={r.id: r for r in routes_}, prices=price_table or {})


def context(snap, first_route, key_id=1, user_id=None):
    key = SimpleNamespace(id=key_id, user_id=user_id, tenant_id=1)
    return SimpleNamespace(snapshot=snap, route=first_route, target=None, key=key, state={}, attempts=0,
                           response_started=False, usage=None, relay=None, status=200, ttfb=None, started=0.0,
                           started_wall=0.0)


def resilience(seed: int = 7, clock: Clock | None = None) -> Resilience:
    return Resilience(None, rng=random.Random(seed), clock=clock or Clock())
