"""Step: answer from the cache, or let the call go through and keep its answer.

Runs right before the call step. A hit is answered here in the client's wire
format (JSON or a replayed stream) with no upstream call; the usage step then
records it at zero cost with `cost_saved_usd` = what the answer cost when it
was first fetched. A miss arms the call step's capture hooks and stores the
answer once it was produced whole, before the response's last byte (a repeat
sent as soon as the answer ends is a hit). Every response of a route with caching
carries `x-switchyard-cache`.
"""
from __future__ import annotations

from functools import partial

from gateway.dataplane import respond
from gateway.dataplane.cache import replay, service
from gateway.dataplane.cache.capture import Capture

HEADER = b"x-switchyard-cache"


def _mark(ctx, header: str, ledger: str) -> None:
    ctx.cache_status = ledger
    ctx.response_headers.append((HEADER, header.encode()))


PLAN = "cache_plan"


async def cache_prefetch(ctx, next_step):
    """Right before the rate-limit step: plan the request and queue its exact lookup (see
    service.prefetch); cache_lookup, after the limits and budgets, reads the reply."""
    plan = ctx.state[PLAN] = service.plan_for(ctx)
    if plan is not None:
        service.prefetch(ctx, plan)
    await next_step(ctx)


async def cache_lookup(ctx, next_step):
    plan = ctx.state[PLAN] if PLAN in ctx.state else service.plan_for(ctx)
    if plan is None:
        await next_step(ctx)
        return
    hit = await service.lookup(ctx, plan)
    if hit is not None:
        _mark(ctx, hit.status, hit.status)
        ctx.state["cost_saved_usd"] = hit.cost
        await replay.serve(ctx, hit.answer)
        return
    _mark(ctx, plan.status, plan.ledger_status)
    if not plan.write:
        await next_step(ctx)
        return
    capture = ctx.state["capture"] = Capture()
    respond.at_end(ctx, partial(service.store, plan=plan, capture=capture))
    await next_step(ctx)
