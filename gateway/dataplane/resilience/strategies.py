"""How a route picks one of its usable targets: one small function per strategy.

`candidates` is always a non-empty subset of `policy.targets` in configured
order (the targets whose breaker lets traffic through and that are not cooling
down after a 429). Randomness comes from the caller's `rng` so tests can seed it.
"""
from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from itertools import accumulate

# lowest_latency sends this share of picks by weight instead, so every target keeps being
# measured and a target that recovered is noticed (an epsilon-greedy choice).
EXPLORE = 0.05


def weighted(policy, candidates, rng):
    if len(candidates) == 1:
        return candidates[0]
    sums = policy.cumulative if candidates is policy.targets else tuple(accumulate(t.weight for t in candidates))
    return candidates[bisect_right(sums, rng.random() * sums[-1])]


def round_robin(policy, candidates, signals, route_id):
    """Smooth weighted round robin over the route's cycle, skipping unusable targets."""
    cycle, targets = policy.cycle, policy.targets
    start = signals.next_position(route_id)
    if candidates is targets:
        return targets[cycle[start % len(cycle)]]
    usable = {t.id for t in candidates}
    for step in range(len(cycle)):
        target = targets[cycle[(start + step) % len(cycle)]]
        if target.id in usable:
            return target
    return candidates[0]


def least_inflight(candidates, signals, rng):
    """Fewest attempts running in this process per unit of weight (Envoy's least request)."""
    best, best_load = [], math.inf
    for target in candidates:
        load = (signals.inflight.get(target.id, 0) + 1) / target.weight
        if load < best_load:
            best, best_load = [target], load
        elif load == best_load:
            best.append(target)
    return best[0] if len(best) == 1 else best[int(rng.random() * len(best))]


def lowest_latency(policy, candidates, signals, rng):
    """Lowest EWMA of time to first byte; targets never measured here go first."""
    latency = signals.latency
    unmeasured = [t for t in candidates if t.id not in latency]
    if unmeasured:
        return unmeasured[int(rng.random() * len(unmeasured))]
    if rng.random() < EXPLORE:
        return weighted(policy, candidates, rng)
    return min(candidates, key=lambda t: latency[t.id])


def _unit_price(price_of, target):
    price = price_of(target)
    # Unknown prices sort last: a deployment nobody priced is not assumed to be free.
    return math.inf if price is None else price.input + price.output


def lowest_cost(policy, candidates, price_of, rng):
    """Cheapest per input+output token (the price this caller pays now); ties split by weight."""
    costs = [_unit_price(price_of, t) for t in candidates]
    cheapest = min(costs)
    tied = tuple(t for t, c in zip(candidates, costs, strict=True) if c == cheapest)
    return weighted(policy, tied, rng)


def sticky(policy, candidates, caller_id, route_id):
    """Canary / A-B: the caller's hash lands on one target of the configured split.

    Always over every configured target, so a caller keeps its variant while others
    come and go; None when that variant cannot take traffic right now.
    """
    digest = hashlib.blake2b(f"{route_id}:{caller_id}".encode(), digest_size=8).digest()
    point = int.from_bytes(digest, "big") / 2**64 * policy.cumulative[-1]
    target = policy.targets[bisect_right(policy.cumulative, point)]
    return target if any(t is target for t in candidates) else None


def pick(policy, route_id, candidates, signals, rng, price_of, caller_id=None):
    """price_of(target) -> Price | None is only called by lowest_cost."""
    if policy.sticky and caller_id is not None:
        target = sticky(policy, candidates, caller_id, route_id)
        if target is not None:
            return target
    strategy = policy.strategy
    if strategy == "round_robin":
        return round_robin(policy, candidates, signals, route_id)
    if strategy == "least_inflight":
        return least_inflight(candidates, signals, rng)
    if strategy == "lowest_latency":
        return lowest_latency(policy, candidates, signals, rng)
    if strategy == "lowest_cost":
        return lowest_cost(policy, candidates, price_of, rng)
    return weighted(policy, candidates, rng)
