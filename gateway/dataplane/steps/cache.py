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

from gateway.dataplane.cache import replay, service
from gateway.dataplane.cache.capture import Capture

HEADER = b"x-switchyard-cache"


def _mark(ctx, header: str, ledger: str) -> None:
    ctx.cache_status = ledger
    ctx.response_headers.append((HEADER, header.encode()))


async def cache_lookup(ctx, next_step):
    plan = service.plan_for(ctx)
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
    ctx.before_end = lambda done: service.store(done, plan, capture)
    await next_step(ctx)
