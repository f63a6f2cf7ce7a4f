"""Choosing a route's target for one attempt: health first, then the route's strategy.

Not a pipeline step of its own: the call step asks again for every retry, so
the choice knows which targets this request already tried. Health comes from
the breaker board's in-memory view; in the normal case (nothing ejected,
nothing cooling down) that is one truth test and the strategy sees the
route's precomputed target tuple. Only a half-open target costs a round trip
(to claim the one probe), and only when it is picked.
"""
from __future__ import annotations

from functools import partial

from gateway.dataplane.errors import GatewayError
from gateway.dataplane.pricing import price_for
from gateway.dataplane.resilience.store import CLAIM_BUSY, CLAIM_GRANTED
from gateway.dataplane.resilience.strategies import pick

PROBE_TTL_S = 60.0  # a probe that never reports back (its process died) frees the slot after this
BUSY_RETRY_AFTER_S = 1.0  # what a client is told while another request probes the last target
_NONE: frozenset = frozenset()


def usable(policy, board, now: float, tried=(), skip=_NONE):
    """(targets that may take this attempt, untried first; ids among them that are half-open)."""
    if board.cool:
        board.expire_cooldowns(now)
    targets, open_, cool = policy.targets, board.open, board.cool
    if not open_ and not cool and not tried:
        return targets, _NONE
    ejected = [t for t in targets if t.id in open_]
    if len(ejected) > policy.max_ejected:
        # Never hold out more than max_ejected: the ones closest to their probe come back first.
        ejected.sort(key=lambda t: open_[t.id])
        ejected = ejected[len(ejected) - policy.max_ejected:]
    half_open = frozenset(t.id for t in ejected if open_[t.id] <= now)
    held = {t.id for t in ejected} - half_open
    ok = [t for t in targets if t.id not in held and t.id not in skip and cool.get(t.id, 0.0) <= now]
    fresh = [t for t in ok if t.id not in tried]
    return tuple(fresh or ok), half_open


def _price(ctx, route, target):
    return price_for(ctx.snapshot.prices, ctx.key.tenant_id, route.id, target, ctx.started_wall)


def caller_id(ctx, policy):
    if policy.sticky is None or ctx.key is None:
        return None
    if policy.sticky == "user" and ctx.key.user_id is not None:
        return f"u{ctx.key.user_id}"
    return f"k{ctx.key.id}"


async def choose_target(ctx, route, policy, state, tried=()):
    """(target, is_probe) for the next attempt, or the GatewayError saying why none can take it."""
    board, skip = state.board, _NONE
    caller = caller_id(ctx, policy)
    price_of = partial(_price, ctx, route) if policy.strategy == "lowest_cost" else None
    while True:
        candidates, half_open = usable(policy, board, board.clock(), tried, skip)
        if not candidates:
            return unavailable(route, policy, board)
        target = pick(policy, route.id, candidates, state.signals, state.rng, price_of, caller)
        if target.id not in half_open:
            return target, False
        claim = await board.claim_probe(target.id, policy.total_s or PROBE_TTL_S)
        if claim != CLAIM_BUSY:
            return target, claim == CLAIM_GRANTED
        skip = skip | {target.id}  # another request is probing it: choose among the rest


def unavailable(route, policy, board) -> GatewayError:
    """No target can take traffic now: 429 if all are cooling down after 429s, else 503."""
    if not policy.targets:
        return GatewayError(503, "no_targets", f"Route '{route.name}' has no target to send the request to.")
    now = board.clock()
    cooling = [board.cool[t.id] for t in policy.targets if board.cool.get(t.id, 0.0) > now]
    opened = [board.open[t.id] for t in policy.targets if t.id in board.open]
    wait = max(min(cooling + opened) - now, BUSY_RETRY_AFTER_S) if cooling or opened else BUSY_RETRY_AFTER_S
    if len(cooling) == len(policy.targets):
        return GatewayError(429, "upstream_rate_limited",
                            f"Every target of route '{route.name}' is rate limited upstream.", retry_after=wait)
    return GatewayError(503, "upstream_unavailable",
                        f"Every target of route '{route.name}' is failing; retry later.", retry_after=wait)
