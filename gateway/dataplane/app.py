"""The data plane: a plain ASGI app for /v1/ and /anthropic/, outside Django's stack.

No middleware, no ORM: a request reads the process's snapshot, passes the
pipeline of steps (auth -> usage -> route -> call) and writes its answer
itself. The client's disconnect cancels the pipeline (and so the upstream
request) at once; the usage step still records what was delivered.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from functools import partial

from django.conf import settings

from gateway.dataplane import cors, respond
from gateway.dataplane.context import RequestContext
from gateway.dataplane.errors import GatewayError
from gateway.dataplane.formats import echo
from gateway.dataplane.ids import request_ids
from gateway.dataplane.runtime import get_runtime
from gateway.dataplane.steps.auth import authenticate
from gateway.dataplane.steps.budget import enforce_budgets
from gateway.dataplane.steps.cache import cache_lookup, cache_prefetch
from gateway.dataplane.steps.call import call_upstream
from gateway.dataplane.steps.models import list_models
from gateway.dataplane.steps.ratelimit import rate_limit
from gateway.dataplane.steps.route import resolve_route
from gateway.dataplane.steps.usage import CLIENT_REQUEST_ID, record_usage

log = logging.getLogger("switchyard.dataplane")

# path -> (ingress format, endpoint, method)
ROUTES = {
    "/v1/chat/completions": ("openai", "chat", "POST"),
    "/v1/embeddings": ("openai", "embeddings", "POST"),
    "/v1/models": ("openai", "models", "GET"),
    "/anthropic/v1/messages": ("anthropic", "chat", "POST"),
    # The base URLs themselves, which clients probe before use (Claude Code sends HEAD /anthropic).
    "/v1": ("openai", "root", "GET"),
    "/anthropic": ("anthropic", "root", "GET"),
}
ROOT_BODY = b'{"status":"ok"}'
MODEL_PREFIX = "/v1/models/"


def _dispatch(path: str):
    found = ROUTES.get(path.rstrip("/") or path)
    if found:
        return found, ""
    if path.startswith(MODEL_PREFIX) and len(path) > len(MODEL_PREFIX):
        return ("openai", "model", "GET"), path[len(MODEL_PREFIX):]
    return None, ""


def _pipeline(endpoint: str, sink):
    if endpoint in ("models", "model"):
        return [authenticate, list_models]
    return [authenticate, partial(record_usage, sink=sink), resolve_route, cache_prefetch, rate_limit, enforce_budgets,
            cache_lookup, call_upstream]


async def _end(ctx):
    return None


def _chain(steps):
    """The steps as one callable: each step gets the rest of the chain as `next_step`."""
    run = _end
    for step in reversed(steps):
        run = partial(step, next_step=run)
    return run


_chains: tuple = (None, None, None)  # (sink, the models chain, the call chain)


def _chain_for(endpoint: str, sink):
    """Both chains built once per sink (a new runtime, in tests, brings a new one), not per request."""
    global _chains
    if _chains[0] is not sink:
        _chains = (sink, _chain(_pipeline("models", sink)), _chain(_pipeline("chat", sink)))
    return _chains[1] if endpoint in ("models", "model") else _chains[2]


async def _read_body(scope, receive, limit: int) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _too_large(limit)  # refused before reading a byte of it
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            raise _too_large(limit)
        chunks.append(body)
        if not message.get("more_body"):
            return b"".join(chunks)


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, "request_too_large", f"Request body exceeds the limit of {limit} bytes.")


def _context(scope, send, route, path_param, runtime) -> RequestContext:
    ingress, endpoint, method = route
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
    # A client's id that is not 1-64 printable ASCII is replaced; the ledger keeps it, escaped and bounded.
    request_id, client_request_id = request_ids(headers.get("x-request-id"))
    return RequestContext(
        scope=scope, send=send, request_id=request_id,
        ingress=ingress, endpoint=endpoint, method=method, headers=headers, raw_body=b"",
        snapshot=runtime.snapshot, started_wall=time.time(), started=time.perf_counter(), path_param=path_param,
        state={CLIENT_REQUEST_ID: client_request_id} if client_request_id else {},
    )


async def _serve(ctx: RequestContext, receive, run):
    """Run the pipeline in this task; a watcher task cancels it if the client leaves mid-answer.

    After the last byte the server also reports a "disconnect": then the steps are left
    to finish their bookkeeping (settle budgets, release limits).
    """
    me = asyncio.current_task()
    left = False

    async def watch():
        nonlocal left
        while (await receive())["type"] != "http.disconnect":
            pass
        if not ctx.response_complete:
            left = True
            me.cancel()  # stop the upstream call now

    watcher = asyncio.ensure_future(watch())
    try:
        try:
            await run(ctx)
        except GatewayError as exc:
            await respond.send_error(ctx, exc)
        except Exception as exc:  # noqa: BLE001 - answer 500 in the caller's format, log the cause
            log.error("request %s failed: %s", ctx.request_id, type(exc).__name__, exc_info=exc)
            await respond.send_error(ctx, GatewayError(500, "internal_error", "Internal gateway error."))
    except asyncio.CancelledError:
        if not left:
            raise  # the server is shutting down, not a client leaving
        me.uncancel()  # the client left: this request is over, the server's task is not
    finally:
        watcher.cancel()


async def dataplane_app(scope, receive, send):
    if scope["type"] != "http":
        return
    if cors.enabled():  # one settings lookup when off
        if scope["method"] == "OPTIONS":
            await cors.preflight(scope, send)
            return
        send = cors.with_cors(scope, send)
    runtime = get_runtime()
    route, path_param = _dispatch(scope["path"])
    fmt = "anthropic" if scope["path"].startswith("/anthropic/") else "openai"
    if route is None:
        route = (fmt, "unknown", scope["method"])
    ctx = _context(scope, send, route, path_param, runtime)
    try:
        if ctx.endpoint == "unknown":
            raise GatewayError(404, "not_found", f"Unknown path {echo(scope['path'])}.")
        if scope["method"] != ctx.method and not (scope["method"] == "HEAD" and ctx.method == "GET"):
            raise GatewayError(405, "method_not_allowed", f"Use {ctx.method} for {echo(scope['path'])}.")
        if ctx.endpoint == "root":
            await respond.send_json(ctx, 200, ROOT_BODY)  # the server drops the body of a HEAD answer
            return
        if ctx.method == "POST":
            ctx.raw_body = await _read_body(scope, receive, settings.MAX_BODY_BYTES)
    except GatewayError as err:
        await respond.send_error(ctx, err)
        return
    except asyncio.CancelledError:
        return  # the client left before sending its body
    await _serve(ctx, receive, _chain_for(ctx.endpoint, runtime.sink))


# Cyclic GC: a request allocates a few hundred short-lived objects, so the default gen-0
# threshold (700) ran a collection every couple of requests, each walking Django's
# hundreds of thousands of long-lived objects on older passes: a third of the CPU under
# load (py-spy, `make bench`). Start-up objects are frozen out of the collector's view
# and collections run less often; reference counting still frees almost everything.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc():
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def lifespan_app(scope, receive, send):
    """ASGI lifespan: start and stop the per-process runtime with the server."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await get_runtime().start()
            except Exception as exc:  # noqa: BLE001 - report it to the server, which exits
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            tune_gc()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await get_runtime().stop()
            await send({"type": "lifespan.shutdown.complete"})
            return
