"""Step: the key's, its user's, team's and tenant's, and the route's rate limits (issue 4).

After resolve_route, which it needs for the route's limits and the token estimate.
One limiter call checks every limit and consumes from all of them or from none. A
request holding tokens or a concurrency slot settles just before its last byte goes
out, and in `finally` whatever happens (errors, client disconnects); settling twice
is a no-op. No limits set: no limiter call, no headers.
"""
from __future__ import annotations

from functools import partial

from gateway.dataplane import respond
from gateway.dataplane.limits.process import get_limiter
from gateway.dataplane.limits.rules import estimate_tokens, rules_for, used_tokens
from gateway.dataplane.limits.targets import TOKENS_STATE


async def rate_limit(ctx, next_step):
    rules = rules_for(ctx)
    if not rules:
        await next_step(ctx)
        return
    tokens = 0
    counts_tokens = any(rule.tpm is not None for rule in rules)
    if counts_tokens:
        tokens = ctx.state[TOKENS_STATE] = estimate_tokens(ctx)
    limiter = get_limiter()
    verdict = await limiter.acquire(rules, tokens)
    ctx.response_headers.extend(verdict.headers())  # on the answer and on the 429 alike
    if not verdict.admitted:
        raise verdict.error()
    if verdict.lease is None:
        await next_step(ctx)  # rpm only: nothing to give back
        return
    lease = verdict.lease  # holds every tpm rule (those settle), so counts_tokens is the lease's too
    respond.at_end(ctx, partial(_settle_at_end, limiter=limiter, lease=lease, counts_tokens=counts_tokens))
    try:
        await next_step(ctx)
    finally:
        await limiter.settle(lease, used_tokens(ctx))


def _settle_at_end(ctx, limiter, lease, counts_tokens):
    """Free the slot before the client can read the end of the answer: a client that sends its
    next request as soon as this one ends must find it free (max_parallel: 1 would flake).
    Without upstream usage yet (the call step estimates it afterwards), `finally` settles."""
    if not (counts_tokens and ctx.usage is None):
        return limiter.settle_soon(lease, used_tokens(ctx))
    return None
