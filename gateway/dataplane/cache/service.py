"""What the cache step does: plan a request, look it up, store its answer.

Statuses: the response header says hit | semantic | miss | bypass; the ledger
row says the same, except that a shadow-mode would-be hit is "shadow" there
(the client was served a miss). "bypass": the client's Cache-Control asked
us not to read (no-cache: the answer is still stored) or not to read nor
store (no-store), or the request asks for what a replay cannot give (logprobs).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from gateway.dataplane.cache import embedder, keys
from gateway.dataplane.cache.semantic import SemanticCache
from gateway.dataplane.cache.settings import CacheSettings, cache_settings
from gateway.dataplane.cache.store import MemoryStore, RedisStore
from gateway.dataplane.canonical import usage_dict
from gateway.dataplane.runtime import get_runtime
from gateway.dataplane.steps.usage import call_cost

log = logging.getLogger("switchyard.cache")
ENDPOINTS = ("chat", "embeddings")


@dataclass(slots=True)
class Plan:
    settings: CacheSettings
    body: dict
    read: bool
    write: bool
    status: str = "miss"  # for the header
    ledger_status: str = "miss"
    key: str | None = None  # exact key, when the exact layer runs
    generation: int | None = None
    semantic: tuple[str, str] | None = None  # (text to embed, context hash)
    embedder: str = ""
    vector: object = None
    sent: object = None  # the exact lookup queued ahead (prefetch), to await in lookup


@dataclass(slots=True)
class Hit:
    answer: dict
    cost: str
    status: str  # "hit" | "semantic"


class CacheRuntime:
    """Per-process cache state, bound to the runtime's hot-path Redis client (None: embedded mode)."""

    def __init__(self, redis):
        self.redis = redis
        self.store = RedisStore(redis) if redis is not None else MemoryStore()
        self.semantic = SemanticCache()
        self.tasks: set[asyncio.Task] = set()

    def background(self, coro) -> None:
        """Run slow cache writes (semantic entries, shadow records) off the request's task: the client is not
        kept waiting for them, and a client that leaves (which cancels the request) cannot cut
        a write short."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("cache write failed: %s", type(task.exception()).__name__)


_current: CacheRuntime | None = None


def get_cache() -> CacheRuntime:
    global _current
    redis = get_runtime().wire
    if _current is None or _current.redis is not redis:
        _current = CacheRuntime(redis)
    return _current


def plan_for(ctx) -> Plan | None:
    """None when the route caches nothing."""
    settings = cache_settings(ctx.route)
    if settings is None or ctx.endpoint not in ENDPOINTS:
        return None
    body = keys.material(ctx)
    directives = {d.strip().split("=")[0].lower() for d in ctx.headers.get("cache-control", "").split(",")}
    plan = Plan(settings, body, read="no-cache" not in directives and "no-store" not in directives,
                write="no-store" not in directives)
    if not keys.replayable(body):
        plan.read = plan.write = False
    if not plan.read:
        plan.status = plan.ledger_status = "bypass"
    if settings.exact:
        plan.key = keys.exact_key(ctx, body)
    if settings.semantic is not None and ctx.endpoint == "chat":
        plan.semantic = keys.semantic_parts(body, settings.semantic.max_temperature)
    return plan


def prefetch(ctx, plan: Plan) -> None:
    """Queue the exact lookup now, so that it travels with the rate-limit check queued next:
    one Redis round trip for both. A request refused meanwhile just never reads the reply."""
    if plan.key is not None and plan.read:
        plan.sent = get_cache().store.get_soon(plan.key, ctx.route.id)


async def lookup(ctx, plan: Plan) -> Hit | None:
    cache = get_cache()
    if plan.key is not None and plan.read:
        entry, plan.generation = await cache.store.get(plan.key, ctx.route.id, sent=plan.sent)
        if entry is not None:
            return Hit(entry["answer"], entry.get("cost", "0"), "hit")
    elif plan.read or plan.write:
        plan.generation = await cache.store.generation(ctx.route.id)
    if plan.generation is None:  # the store cannot answer: neither read nor write
        plan.read = plan.write = False
        return None
    if plan.semantic is not None and plan.read:
        try:
            return await _semantic_lookup(ctx, plan, cache.semantic)
        except Exception as exc:  # noqa: BLE001 - a database hiccup is a miss, never a failed request
            log.warning("semantic cache lookup failed: %s", type(exc).__name__)
    return None


async def _semantic_lookup(ctx, plan: Plan, semantic: SemanticCache) -> Hit | None:
    settings = plan.settings.semantic
    try:
        plan.embedder, plan.vector = await embedder.embed(ctx, settings.embedding_route, plan.semantic[0])
    except embedder.EmbeddingUnavailable as exc:
        log.warning("semantic cache skipped: %s", exc)
        return None
    scope = keys.semantic_scope(ctx, plan.semantic[1], plan.embedder)
    found = await semantic.search(ctx.route.id, scope, plan.generation, plan.vector)
    if found is None or found[1] < settings.threshold:
        return None
    if settings.shadow:
        plan.ledger_status = "shadow"
        shadow = {"tenant_id": ctx.key.tenant_id, "route_id": ctx.route.id, "request_id": ctx.request_id,
                  "entry_id": found[0], "similarity": found[1], "threshold": settings.threshold}
        get_cache().background(semantic.record_shadow(shadow))
        return None
    entry = await semantic.fetch(found[0])
    return Hit(entry[0], entry[1], "semantic") if entry is not None else None


def store(ctx, plan: Plan, capture):
    """At the end of a served miss (a respond.at_end hook): keep the answer if it is complete
    and replayable. The exact entry is written before the client can see the end (returns what
    to await for that); the semantic one, which needs an embedding, in the background."""
    if ctx.cancelled or ctx.status != 200 or not ctx.response_started:
        return None
    answer = capture.result(usage_dict(ctx.usage) if ctx.usage is not None else None)
    if answer is None:
        return None
    cost = str(_cost(ctx))
    cache = get_cache()
    if plan.semantic is not None and not _has_tool_calls(answer):
        cache.background(_semantic_store(ctx, plan, answer, cost, cache.semantic))
    if plan.key is not None:
        entry = {"gen": plan.generation, "cost": cost, "at": round(time.time(), 3), "answer": answer}
        return cache.store.put_soon(plan.key, entry, plan.settings.ttl)
    return None


async def _semantic_store(ctx, plan: Plan, answer: dict, cost: str, semantic: SemanticCache) -> None:
    settings = plan.settings.semantic
    if plan.vector is None:  # no lookup ran (Cache-Control: no-cache): embed now, after the answer went out
        try:
            plan.embedder, plan.vector = await embedder.embed(ctx, settings.embedding_route, plan.semantic[0])
        except embedder.EmbeddingUnavailable as exc:
            log.warning("semantic cache write skipped: %s", exc)
            return
    fields = {"tenant_id": ctx.key.tenant_id, "route_id": ctx.route.id, "model": str(plan.body.get("model", "")),
              "scope": keys.semantic_scope(ctx, plan.semantic[1], plan.embedder), "embedder": plan.embedder,
              "generation": plan.generation, "answer": answer, "cost_usd": cost}
    await semantic.insert({**fields, "dims": len(plan.vector), "vector": plan.vector.astype("<f4").tobytes()},
                          settings.ttl)


def _has_tool_calls(answer: dict) -> bool:
    return any((c.get("message") or {}).get("tool_calls") for c in answer.get("choices") or ())


def _cost(ctx):
    """The miss's cost exactly as its ledger row records it, so a hit saves that same figure."""
    return call_cost(ctx)[1]
