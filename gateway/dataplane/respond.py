"""Writing ASGI responses: JSON answers, SSE streams and errors in the caller's format."""
from __future__ import annotations

import logging
import time

from gateway.dataplane.context import RequestContext
from gateway.dataplane.errors import GatewayError, render_error, sse_error_event

log = logging.getLogger("switchyard.dataplane")
JSON = (b"content-type", b"application/json")
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # tell nginx-style proxies not to buffer the stream
]


def _headers(ctx: RequestContext, extra) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-request-id", ctx.request_id.encode()), *extra, *ctx.response_headers]
    if ctx.route is not None:
        headers.append((b"x-switchyard-route", ctx.route.name.encode()))
    if ctx.target is not None:
        headers.append((b"x-switchyard-provider", ctx.target.provider.name.encode()))
    return headers


def _mark_first_byte(ctx: RequestContext):
    if ctx.ttfb is None:
        ctx.ttfb = time.perf_counter() - ctx.started
    ctx.response_started = True


async def send_json(ctx: RequestContext, status: int, body: bytes, extra=()):
    _mark_first_byte(ctx)
    ctx.status = status
    if ctx.before_end is not None:
        await _before_end(ctx)  # before the head too: head and body then leave back to back
    headers = _headers(ctx, [JSON, *extra])
    await ctx.send({"type": "http.response.start", "status": status, "headers": headers})
    await ctx.send({"type": "http.response.body", "body": body})
    ctx.response_complete = True


async def start_stream(ctx: RequestContext):
    _mark_first_byte(ctx)
    ctx.status = 200
    await ctx.send({"type": "http.response.start", "status": 200, "headers": _headers(ctx, SSE_HEADERS)})


async def send_chunk(ctx: RequestContext, data: bytes):
    if data:
        await ctx.send({"type": "http.response.body", "body": data, "more_body": True})


async def end_stream(ctx: RequestContext, tail: bytes = b""):
    if ctx.before_end is not None:
        await _before_end(ctx)
    await ctx.send({"type": "http.response.body", "body": tail, "more_body": False})
    ctx.response_complete = True


def at_end(ctx: RequestContext, hook) -> None:
    """Run hook(ctx) once, right before the client can see the answer end: a client that sends
    its next request the moment this one ends must find what this one changed (its cache entry,
    its rate-limit slot freed). Hooks are synchronous and do not wait for their store's reply:
    one makes its change in-process, or queues a Redis command and returns what completes once
    that has left for Redis (WireRedis.leaving). The answer's end goes out only after that, and
    Redis runs commands in the order they arrive, so the next request, sent only after this
    answer ended, finds the change on any process. All the commands that the requests ending in
    one loop turn queued leave in one write. Hooks handle their own failures."""
    if ctx.before_end is None:
        ctx.before_end = [hook]
    else:
        ctx.before_end.append(hook)


async def _before_end(ctx: RequestContext):
    hooks, ctx.before_end = ctx.before_end, None
    leaving = []
    for hook in hooks:
        try:
            sent = hook(ctx)
        except Exception as exc:  # noqa: BLE001 - bookkeeping must not cost the client its answer
            log.error("request %s: end-of-answer hook failed: %s", ctx.request_id, type(exc).__name__,
                      exc_info=exc)
            continue
        if sent is not None and sent not in leaving:  # one Redis write carries a loop turn's commands
            leaving.append(sent)
    for sent in leaving:
        await sent


async def send_error(ctx: RequestContext, err: GatewayError):
    """Before the first byte: a proper error response. After: an SSE error event, then the end."""
    ctx.status, ctx.error_code = err.status, err.code
    if ctx.response_started:
        await end_stream(ctx, sse_error_event(err, ctx.ingress))
        return
    status, headers, body = render_error(err, ctx.ingress)
    ctx.response_started = True
    await ctx.send({"type": "http.response.start", "status": status, "headers": _headers(ctx, headers)})
    await ctx.send({"type": "http.response.body", "body": body})
    ctx.response_complete = True
