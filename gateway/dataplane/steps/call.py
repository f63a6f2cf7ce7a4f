"""Step: call a target of the route and answer the client (JSON or a relayed stream).

resilience/failover.py decides which targets and routes to try, how often and
when (balancing, retries, fallbacks, breakers, timeouts); `_exchange` below is
one attempt. Same wire format on both sides: the body passes through untouched
but for `model`. Otherwise the adapter translates both ways. Usage comes from
the upstream; when it never arrives (a stream cut short), it is counted here
and marked estimated.
"""
from __future__ import annotations

import asyncio

from gateway.dataplane import respond
from gateway.dataplane.adapters import get_adapter
from gateway.dataplane.adapters.base import json_or_none
from gateway.dataplane.canonical import Usage, dumps
from gateway.dataplane.errors import GatewayError, ProviderError
from gateway.dataplane.formats import anthropic as anthropic_format
from gateway.dataplane.http import iter_body, read_body
from gateway.dataplane.limits import TargetRateLimited, acquire_target
from gateway.dataplane.resilience import get_resilience
from gateway.dataplane.resilience.failover import serve
from gateway.dataplane.runtime import get_runtime
from gateway.dataplane.steps.relay import PassthroughRelay, relay_local, relay_translated
from gateway.dataplane.tokens import count_text, prompt_tokens

MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # a non-streamed answer larger than this is an upstream fault


async def call_upstream(ctx, next_step):
    try:
        await serve(ctx, _exchange, get_resilience())
    except GatewayError:
        if ctx.response_started:
            _estimate_usage(ctx)  # cut short mid-stream: bill what the client received
        raise
    except asyncio.CancelledError:
        _estimate_usage(ctx)
        raise
    if ctx.usage is None:
        _estimate_usage(ctx)
    await next_step(ctx)


async def _exchange(ctx):
    """One attempt on ctx.target; raises ProviderError when the upstream fails."""
    adapter = get_adapter(ctx.target.provider.kind)
    release = await _acquire_target(ctx)
    try:
        if adapter.local:
            await _local(ctx, adapter)
        elif ctx.stream:
            await _stream(ctx, adapter)
        else:
            await _unary(ctx, adapter)
    finally:
        await release()


async def _acquire_target(ctx):
    """The target's own quota (RouteTarget.limits), checked per attempt before any byte is sent.

    A full target is a retryable 429 for the attempt loop: it moves to another
    target, and the Retry-After cools this one down.
    """
    try:
        return await acquire_target(ctx, ctx.target)
    except TargetRateLimited as full:
        raise ProviderError(429, full.message, retryable=True, retry_after=full.retry_after,
                            code="target_rate_limited") from None


def _passthrough(ctx, adapter) -> bool:
    return adapter.wire == ctx.ingress


def _request(ctx, adapter, stream: bool):
    target, endpoint = ctx.target.wire, ctx.endpoint
    if _passthrough(ctx, adapter):
        raw = ctx.raw_body
        if ctx.body_modified:  # a step changed the request (e.g. clamped max_tokens)
            raw = dumps(ctx.body if ctx.ingress == "anthropic" else ctx.canonical)
        return adapter.passthrough_request(raw, target, stream=stream, endpoint=endpoint, client_headers=ctx.headers)
    return adapter.build_request(ctx.canonical, target, stream=stream, endpoint=endpoint, client_headers=ctx.headers)


async def _open(ctx, adapter, stream: bool):
    resp = await get_runtime().client.open(_request(ctx, adapter, stream), ctx.target.wire.timeouts)
    if resp.status >= 400:
        body = await read_body(resp, MAX_RESPONSE_BYTES)
        raise adapter.classify_error(resp.status, body, resp.headers, secrets=(ctx.target.provider.api_key,))
    return resp


def _encode(ctx, canonical_response: dict) -> bytes:
    if ctx.ingress == "anthropic":
        return dumps(anthropic_format.from_canonical(canonical_response, model=ctx.body.get("model")))
    return dumps(canonical_response)


async def _unary(ctx, adapter):
    resp = await _open(ctx, adapter, stream=False)
    body = await read_body(resp, MAX_RESPONSE_BYTES)
    capture = ctx.state.get("capture")
    if _passthrough(ctx, adapter):
        parsed = json_or_none(body)  # one parse for the usage and the cache's entry (an embedding: 30 KB, 37 us)
        ctx.usage = adapter.passthrough_usage_of(parsed)
        if capture is not None:
            capture.parsed(ctx.ingress, parsed)
    else:
        parsed = adapter.parse_response(resp.status, body, endpoint=ctx.endpoint)
        ctx.usage = adapter.usage(parsed)
        if capture is not None:
            capture.response("canonical", parsed)
        body = _encode(ctx, parsed)
    await respond.send_json(ctx, 200, body)


async def _stream(ctx, adapter):
    resp = await _open(ctx, adapter, stream=True)
    if _passthrough(ctx, adapter):
        await PassthroughRelay(ctx, adapter).run(iter_body(resp))
    else:
        await relay_translated(ctx, iter_body(resp), adapter.stream_parser())


async def _local(ctx, adapter):
    target = ctx.target.wire
    if ctx.stream:
        await relay_local(ctx, adapter.stream(ctx.canonical, target))
        return
    result = await adapter.complete(ctx.canonical, target, endpoint=ctx.endpoint)
    ctx.usage = adapter.usage(result)
    if ctx.state.get("capture") is not None:
        ctx.state["capture"].response("canonical", result)
    await respond.send_json(ctx, 200, _encode(ctx, result))


def _estimate_usage(ctx):
    """No usage from upstream: count the prompt and what reached the client."""
    if ctx.usage is not None:
        return
    relay = getattr(ctx, "relay", None)
    delivered = relay.delivered_text() if relay is not None else ""
    ctx.usage = Usage(input_tokens=prompt_tokens(ctx), output_tokens=count_text(delivered),
                      estimated=True)
