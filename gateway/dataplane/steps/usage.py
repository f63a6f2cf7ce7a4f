"""Step: exactly one usage event per authenticated request, whatever happens below.

Wraps the rest of the pipeline; on success, error or cancellation it emits
the event in `finally`, priced from the snapshot at the moment of the call.
"""
from __future__ import annotations

import asyncio
import time

from billing.usage_text import clean_json, clean_text
from gateway.dataplane.errors import GatewayError
from gateway.dataplane.ids import uuid4_str
from gateway.dataplane.pricing import cost_usd, price_for

COST_STATE = "call_cost"
# ctx.state key: the client's x-request-id, kept when it was not fit to be the request's id (app._context).
CLIENT_REQUEST_ID = "client_request_id"
# The ledger's error_code column: upstreams name the codes, at any length and in any bytes.
ERROR_CODE_MAX = 64
# The ledger's token columns are 32-bit. Upstreams report the counts and Python's json reads
# integers of any size (orjson, the stream's encoder, refuses beyond 64 bits): no call has 2^31
# tokens, so a larger count is an upstream's error, recorded as the most the column holds.
TOKENS_MAX = 2**31 - 1


def call_cost(ctx):
    """(price, exact cost) of the call as its ledger row records them; budgets settle with the same figure.
    Worked out once per request and usage (the cache entry, the budgets and the ledger row all ask)."""
    usage, target = ctx.usage, ctx.target
    found = ctx.state.get(COST_STATE)
    if found is not None and found[0] is usage and found[1] is target and usage is not None:
        return found[2]  # same attempt (a failover changes the target and resets the usage)
    result = _call_cost(ctx, usage)
    ctx.state[COST_STATE] = (usage, target, result)
    return result


def _call_cost(ctx, usage):
    route = ctx.route
    # The price in force when the call started, for its tenant and route (billing/prices/book.py).
    price = price_for(ctx.snapshot.prices, ctx.key.tenant_id, route.id if route else None, ctx.target, ctx.started_wall)
    if usage is None:
        return price, cost_usd(price, 0, 0)
    return price, cost_usd(price, usage.input_tokens, usage.output_tokens, usage.cached_tokens,
                           cache_write_tokens=usage.cache_write_tokens)


def _tokens(usage) -> tuple[int, ...]:
    """(input, output, cached, cache write, reasoning) tokens, each within the ledger's column."""
    if usage is None:
        return 0, 0, 0, 0, 0
    counts = (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.cache_write_tokens,
              usage.reasoning_tokens)
    return counts if max(counts) <= TOKENS_MAX else tuple(min(c, TOKENS_MAX) for c in counts)


def build_event(ctx) -> dict:
    target, usage, route, key = ctx.target, ctx.usage, ctx.route, ctx.key
    price, cost = call_cost(ctx)
    tokens = _tokens(usage)
    return {
        "event_id": uuid4_str(),
        "request_id": ctx.request_id,
        "client_request_id": ctx.state.get(CLIENT_REQUEST_ID, ""),
        "created_at": ctx.started_wall,
        "tenant_id": key.tenant_id,
        "team_id": key.team_id,
        "key_id": key.id,
        "user_id": key.user_id,
        "route_id": route.id if route else None,
        "route": route.name if route else "",
        "provider_id": target.provider.id if target else None,
        "provider": target.provider.name if target else "",
        "model": target.model if target else "",
        "ingress": ctx.ingress,
        "endpoint": ctx.endpoint,
        "stream": ctx.stream,
        "status": ctx.status,
        "error_code": clean_text(ctx.error_code or "", ERROR_CODE_MAX),
        "cancelled": ctx.cancelled,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cached_tokens": tokens[2],
        "cache_write_tokens": tokens[3],
        "reasoning_tokens": tokens[4],
        "tokens_estimated": bool(usage and usage.estimated),
        "ttfb_ms": ctx.ttfb * 1000 if ctx.ttfb is not None else None,
        "latency_ms": (time.perf_counter() - ctx.started) * 1000,
        "cost_usd": str(cost),
        "price_version": price.source if price else "",
        "provider_cost_usd": usage.provider_cost if usage else None,
        "attempts": max(ctx.attempts, 1 if target else 0),
        "attempt_log": clean_json(ctx.state.get("attempt_log", [])),  # upstreams' error codes again
        "cache_status": ctx.cache_status,
        "cost_saved_usd": ctx.state.get("cost_saved_usd", "0"),
    }


async def record_usage(ctx, next_step, sink):
    try:
        await next_step(ctx)
    except GatewayError as err:
        ctx.status, ctx.error_code = err.status, err.code
        raise
    except asyncio.CancelledError:
        ctx.cancelled = True
        ctx.status = 499  # nginx's "client closed request"
        ctx.error_code = "client_disconnected"
        raise
    finally:
        if ctx.endpoint in ("chat", "embeddings"):
            sink.emit(build_event(ctx))
