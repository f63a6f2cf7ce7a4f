"""A route's balancing, retry, breaker and canary settings, parsed once per snapshot build.

The JSON columns were validated on write (config_schema's Retry/Breaker/Canary
specs), but a row written another way must not break the data plane: a value of
the wrong type falls back to its default here instead of failing a request.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce
from itertools import accumulate

STRATEGIES = frozenset({"weighted", "round_robin", "least_inflight", "lowest_latency", "lowest_cost"})
RETRY_ON = frozenset({"connection", "timeout", "rate_limit", "server_error"})
FALLBACK_ON = frozenset({"context_window", "content_policy"})
STICKY = frozenset({"key", "user"})
# A smooth round-robin cycle longer than this is scaled down: weights like 999:1 need no
# 1,000-entry table to be honoured closely enough.
MAX_CYCLE = 1000


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    enabled: bool = True
    failures: int = 5  # consecutive failures that open it (RELIABILITY.md B5); 0 disables the rule
    error_rate: float = 0.5  # ... or at least this share of failures (Saleor's rate rule) ...
    min_requests: int = 20  # ... among at least this many requests ...
    window_s: float = 30.0  # ... counted in windows of this length
    cooldown_s: float = 30.0  # the n-th ejection in a row lasts n times this (Envoy's base_ejection_time)
    max_cooldown_s: float = 300.0  # and never longer than this (Envoy's max_ejection_time)


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    strategy: str = "weighted"
    max_retries: int = 2
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    retry_on: frozenset = RETRY_ON
    fallback_on: frozenset = FALLBACK_ON
    breaker: BreakerSettings = BreakerSettings()
    sticky: str | None = None  # canary: "key" | "user" makes the split deterministic per caller
    total_s: float | None = None  # bounds everything the route does for one request
    targets: tuple = ()  # TargetInfo with weight > 0, in configured order
    cumulative: tuple = ()  # running weight sums over `targets`, for weighted and sticky picks
    cycle: tuple = ()  # smooth weighted round-robin order, as indexes into `targets`
    max_ejected: int = 0  # targets the breaker may hold out of this route at once


def _number(value, default, low=0.0, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        return default
    return value


def _names(value, allowed, default):
    if not isinstance(value, list | tuple):
        return default
    return frozenset(v for v in value if v in allowed)


def _mapping(raw):
    return raw if hasattr(raw, "get") else {}


def breaker_settings(raw) -> BreakerSettings:
    raw = _mapping(raw)
    d = BreakerSettings()
    return BreakerSettings(
        enabled=raw.get("enabled") is not False,
        failures=int(_number(raw.get("failures"), d.failures)),
        error_rate=_number(raw.get("error_rate"), d.error_rate, 0.0, 1.0),
        min_requests=int(_number(raw.get("min_requests"), d.min_requests)),
        window_s=_number(raw.get("window_s"), d.window_s, 0.001),
        cooldown_s=_number(raw.get("cooldown_s"), d.cooldown_s, 0.001),
        max_cooldown_s=_number(raw.get("max_cooldown_s"), d.max_cooldown_s, 0.001),
    )


def smooth_cycle(weights: list[int]) -> tuple[int, ...]:
    """nginx's smooth weighted round robin: 5:1:1 gives a a b a c a a, not a a a a a b c."""
    if not weights:
        return ()
    divisor = reduce(math.gcd, weights)
    weights = [w // divisor for w in weights]
    total = sum(weights)
    if total > MAX_CYCLE:
        weights = [max(1, w * MAX_CYCLE // total) for w in weights]
        total = sum(weights)
    current = [0] * len(weights)
    order = []
    for _ in range(total):
        current = [c + w for c, w in zip(current, weights, strict=True)]
        best = max(range(len(weights)), key=current.__getitem__)
        current[best] -= total
        order.append(best)
    return tuple(order)


def route_policy(strategy, retry, breaker, canary, timeouts, targets) -> RoutePolicy:
    """Everything the call step needs about a route, computed off the request path."""
    retry, canary, timeouts = _mapping(retry), _mapping(canary), _mapping(timeouts)
    live = tuple(t for t in targets if t.weight > 0)
    d = RoutePolicy()
    backoff = _number(retry.get("backoff_ms"), d.backoff_s * 1000) / 1000
    return RoutePolicy(
        strategy=strategy if strategy in STRATEGIES else "weighted",
        max_retries=int(_number(retry.get("max_retries"), d.max_retries, 0, 10)),
        backoff_s=backoff,
        max_backoff_s=max(backoff, _number(retry.get("max_backoff_ms"), d.max_backoff_s * 1000) / 1000),
        retry_on=_names(retry.get("retry_on"), RETRY_ON, RETRY_ON),
        fallback_on=_names(retry.get("fallback_on"), FALLBACK_ON, FALLBACK_ON),
        breaker=breaker_settings(breaker),
        sticky=canary.get("sticky") if canary.get("sticky") in STICKY else None,
        total_s=_number(timeouts.get("total"), None, 0.001),
        targets=live,
        cumulative=tuple(accumulate(t.weight for t in live)),
        cycle=smooth_cycle([t.weight for t in live]),
        # Envoy's max_ejection_percent at 50 %: never more than half a route's targets, but a
        # lone target may still be held out (that is what makes an outage fail fast).
        max_ejected=max(1, len(live) // 2),
    )

