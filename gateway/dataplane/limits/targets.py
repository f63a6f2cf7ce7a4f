"""Per provider target limits (RouteTarget.limits), for the balancing step to call per attempt.

    release = await acquire_target(ctx, target)   # TargetRateLimited (429): try another target
    try:
        ...call the target...
    finally:
        await release()                           # reconciles tokens with ctx.usage, frees the slot
"""
from __future__ import annotations

from gateway.dataplane.limits.process import get_limiter
from gateway.dataplane.limits.rules import estimate_tokens, target_rule, used_tokens
from gateway.dataplane.limits.verdict import TargetRateLimited

TOKENS_STATE = "ratelimit.tokens"  # ctx.state: the estimate the rate-limit step already made


async def _nothing_to_release() -> None:
    return None


async def acquire_target(ctx, target):
    """Count this attempt against `target`'s own quota; returns an idempotent `async release()`."""
    rule = target_rule(ctx.route, target)
    if rule is None:
        return _nothing_to_release
    tokens = 0
    if rule.tpm is not None:
        tokens = ctx.state.get(TOKENS_STATE)
        if tokens is None:
            tokens = ctx.state[TOKENS_STATE] = estimate_tokens(ctx)
    limiter = get_limiter()
    verdict = await limiter.acquire([rule], tokens)
    if not verdict.admitted:
        raise verdict.error(TargetRateLimited)
    lease = verdict.lease

    async def release() -> None:
        await limiter.settle(lease, used_tokens(ctx))

    return release
