"""Step: hold a call's worst-case cost against every budget it counts against, settle after it.

Runs after the route is known (budgets may be per route) and before anything
that spends. A full block budget answers 402 naming the tightest budget; a
full downgrade budget switches the call to its cheaper route; alert budgets
only count. The settle runs in `finally`, so an upstream error or a client
that leaves still releases the hold and is charged for what was delivered.
"""
from __future__ import annotations

from gateway.dataplane.budgets import money
from gateway.dataplane.budgets.engine import process_engine
from gateway.dataplane.budgets.plan import applicable
from gateway.dataplane.steps.usage import call_cost


async def enforce_budgets(ctx, next_step):
    budgets = applicable(ctx.snapshot, ctx.key, ctx.route.id)
    if not budgets:  # the common case: one dict lookup per scope, no round trip
        await next_step(ctx)
        return
    engine = process_engine()
    hold = await engine.admit(ctx, budgets)
    try:
        await next_step(ctx)
    finally:
        # Priced exactly as the ledger row will be, so the counters can equal the ledger.
        await engine.settle(ctx, hold, money.to_pico(call_cost(ctx)[1]))
