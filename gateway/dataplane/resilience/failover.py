"""The attempt loop: targets of a route with retries, then its fallback routes.

Rules (RELIABILITY.md B5):
* retries only while no byte reached the client (`ctx.response_started`); a failure
  after that ends the stream with an error event: never a second upstream spliced in;
* at most 1 + max_retries attempts per route; a retry needs a slot in the process's
  retry budget; waits are exponential backoff with full jitter; a retry prefers a
  target this request has not tried yet;
* a 429 is retried on another target, or on the same one only after its Retry-After
  (when that fits in max_backoff, else the route gives up); a timeout only on another
  target, so one hanging upstream costs one timeout, not 1 + max_retries of them;
* permanent 4xx are never retried; a context-window or content-policy refusal goes
  to the fallbacks when the route's `fallback_on` names it; exhausted targets go there
  always;
* route.timeouts.total bounds everything a route does for the request, stream included.
"""
from __future__ import annotations

import asyncio
import time

from gateway.dataplane.errors import GatewayError, ProviderError
from gateway.dataplane.resilience.classify import fallback_reason, retry_kind, unhealthy
from gateway.dataplane.resilience.policy import route_policy
from gateway.dataplane.steps.balance import choose_target, usable

MAX_ROUTES = 8  # a route and its fallbacks, transitively: bounds the worst case of one request
sleep = asyncio.sleep  # the backoff wait; unit tests replace it to see the waits without waiting


async def serve(ctx, exchange, state):
    """Run `exchange(ctx)` (one upstream attempt on ctx.route/ctx.target) until one succeeds."""
    if not state.board.warm:
        await state.board.warm_up()
    state.lag.ensure_started()
    state.budget.enter()
    try:
        first = ctx.route
        policy = first.policy or policy_of(first)
        error = await _serve_route(ctx, first, policy, exchange, state)
        if error is not None and _falls_back(policy, error):
            error = await _fall_back(ctx, first, exchange, state, error)
        if error is not None:
            raise error if isinstance(error, GatewayError) else error.to_gateway_error()
    finally:
        state.budget.leave()


async def _fall_back(ctx, first, exchange, state, error):
    ctx.state["requested_route"] = first  # what the client asked for; ctx.route names what served it
    for route in fallback_chain(ctx.snapshot, first):
        policy = route.policy or policy_of(route)
        error = await _serve_route(ctx, route, policy, exchange, state)
        if error is None or not _falls_back(policy, error):
            break
    return error


def policy_of(route):
    """For a RouteInfo built by hand (tests): the snapshot builder sets route.policy."""
    return route_policy(route.strategy, route.retry, route.breaker, route.canary, route.timeouts, route.targets)


def fallback_chain(snapshot, first):
    """The route's fallbacks, depth-first in configured order, each route once (cycles end)."""
    seen, stack, count = {first.id}, list(reversed(first.fallback_ids)), 1
    while stack and count < MAX_ROUTES:
        route = snapshot.routes_by_id.get(stack.pop())
        if route is None or route.id in seen:
            continue  # disabled, deleted, or already tried
        seen.add(route.id)
        count += 1
        yield route
        stack.extend(reversed(route.fallback_ids))


def _falls_back(policy, error) -> bool:
    if isinstance(error, GatewayError) or not error.permanent:
        return True  # no usable target, or every attempt failed for a reason this route owns
    return fallback_reason(error) in policy.fallback_on


async def _serve_route(ctx, route, policy, exchange, state):
    """None once served; else the error to fall back on (or to answer with)."""
    deadline = None if policy.total_s is None else asyncio.get_running_loop().time() + policy.total_s
    tried: list[int] = []
    error = None
    for n in range(policy.max_retries + 1):
        wait = 0.0
        if n:
            wait = _retry_wait(policy, error, n, deadline, state, tried)
            if wait is None or not state.budget.try_acquire():
                break
        try:
            if wait:
                await sleep(wait)
            error = await _one(ctx, route, policy, exchange, state, tried, deadline)
        finally:
            if n:
                state.budget.release()
        if error is None or isinstance(error, GatewayError):
            return error
        if error.permanent or (error.retryable and retry_kind(error) not in policy.retry_on):
            break
    return error


def _retry_wait(policy, error, n, deadline, state, tried) -> float | None:
    """Seconds to wait before retry number n, or None when this error must not be retried."""
    board = state.board
    candidates, _ = usable(policy, board, board.clock())
    waitable_429 = error.status == 429 and error.retry_after is not None
    if not candidates and not waitable_429:
        return None  # every target is held out now (its breaker just opened, say)
    other = any(t.id not in tried for t in candidates)
    if not other and (not error.retryable or retry_kind(error) == "timeout"):
        # A 402 (say) can only succeed elsewhere; a target that just used up a whole timeout
        # would most likely use up another one (NGINX's proxy_next_upstream moves on, too).
        return None
    wait = state.rng.uniform(0.0, min(policy.max_backoff_s, policy.backoff_s * 2 ** (n - 1)))
    if waitable_429 and not other:
        if error.retry_after > policy.max_backoff_s:
            return None  # longer than this route waits: fall back, or tell the client when
        wait = max(wait, error.retry_after)
    if deadline is not None and asyncio.get_running_loop().time() + wait >= deadline:
        return None
    return wait


async def _one(ctx, route, policy, exchange, state, tried, deadline):
    picked = await choose_target(ctx, route, policy, state, tried)
    if isinstance(picked, GatewayError):
        return picked
    target, probe = picked
    tried.append(target.id)
    ctx.route, ctx.target = route, target
    return await _attempt(ctx, route, policy, target, probe, exchange, state, deadline)


async def _attempt(ctx, route, policy, target, probe, exchange, state, deadline):
    _reset(ctx)
    started = time.perf_counter()
    state.signals.started(target.id)
    error = verdict = None
    try:
        error = await _exchange(ctx, exchange, deadline)
        verdict = _verdict(error, state)
    except asyncio.CancelledError:
        _log(ctx, route, target, started, 499, "client_disconnected")
        raise
    finally:
        state.signals.finished(target.id)
        _settle(state.board, target, policy, probe, verdict)
    _log(ctx, route, target, started, error.status if error else ctx.status, error.code if error else "")
    _observe(ctx, state.signals, target, started, error)
    if error is None:
        return None
    cooled = error.status == 429 and bool(error.retry_after)
    if cooled:
        state.board.cool_down(target.id, error.retry_after)
    if cooled or verdict is False:
        await state.board.flush()  # failures are rare: the next request must already see this one
    if ctx.response_started:
        raise error.to_gateway_error()  # bytes reached the client: end the stream, never splice
    return error


async def _exchange(ctx, exchange, deadline):
    try:
        if deadline is None:
            await exchange(ctx)
        else:
            async with asyncio.timeout_at(deadline):
                await exchange(ctx)
    except ProviderError as err:
        return err
    except TimeoutError:
        return ProviderError.connection("the route's total timeout ran out", timeout=True)
    return None


def _verdict(error, state) -> bool | None:
    """True/False for the target's breaker; None: this failure says nothing about the target
    (a timeout while this process's own event loop ran late, see resilience/lag.py)."""
    if error is None:
        return True
    if not unhealthy(error):
        return True
    if retry_kind(error) == "timeout" and state.lag.recent():
        return None
    return False


def _settle(board, target, policy, probe, verdict):
    if probe:
        board.settle_probe(target.id, policy.breaker, verdict)
    elif verdict is not None:
        board.record(target.id, policy.breaker, verdict)


def _reset(ctx):
    """A new attempt starts clean; what a failed one saw before any byte left is discarded."""
    ctx.usage = ctx.relay = None
    capture = ctx.state.get("capture")
    if capture is not None and hasattr(capture, "reset"):
        capture.reset()


def _log(ctx, route, target, started, status, code):
    ctx.state.setdefault("attempt_log", []).append({
        "route": route.name, "provider": target.provider.name, "model": target.model,
        "status": status, "error": code, "ms": round((time.perf_counter() - started) * 1000, 1),
    })
    ctx.attempts += 1


def _observe(ctx, signals, target, started, error):
    """Latency EWMA: time to the client's first byte on success; a timeout counts in full."""
    if error is None and ctx.ttfb is not None:
        signals.observe(target.id, max(ctx.started + ctx.ttfb - started, 0.0))
    elif error is not None and error.code == "upstream_timeout":
        signals.observe(target.id, time.perf_counter() - started)
