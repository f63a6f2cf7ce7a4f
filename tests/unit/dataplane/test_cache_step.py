"""The cache step with a fake `next`: what runs the call, what answers from the cache."""
from __future__ import annotations

import asyncio
import time
from types import MappingProxyType, SimpleNamespace

import pytest

from gateway.dataplane import respond
from gateway.dataplane.cache import service
from gateway.dataplane.cache.generations import FileGenerations
from gateway.dataplane.cache.store import MemoryStore
from gateway.dataplane.canonical import Usage, completion, dumps
from gateway.dataplane.context import RequestContext
from gateway.dataplane.snapshot import EMPTY
from gateway.dataplane.steps.cache import cache_lookup

ANSWER = completion("chatcmpl-1", "m", {"role": "assistant", "content": "hi"}, "stop", Usage(4, 1), created=1)


@pytest.fixture(autouse=True)
def memory_cache(tmp_path, monkeypatch):
    runtime = service.CacheRuntime(None)
    runtime.store = MemoryStore(FileGenerations(tmp_path / "gens.json"))
    monkeypatch.setattr(service, "get_cache", lambda: runtime)
    return runtime


def context(headers=None, cache=None, finish="stop"):
    async def send(message):
        pass

    route = SimpleNamespace(id=7, name="r", targets=(), cache=MappingProxyType(cache or {"enabled": True}))
    return RequestContext(scope={}, send=send, request_id="r1", ingress="openai", endpoint="chat", method="POST",
                          headers=headers or {}, raw_body=b"", snapshot=EMPTY, started_wall=time.time(),
                          started=time.perf_counter(), route=route, key=SimpleNamespace(tenant_id=1),
                          canonical={"model": "r", "messages": [{"role": "user", "content": "hello"}]})


class Upstream:
    """A fake call step: answers, and feeds the capture hook as the real one does."""

    def __init__(self, finish="stop"):
        self.calls = 0
        self.answer = {**ANSWER, "choices": [{**ANSWER["choices"][0], "finish_reason": finish}]}

    async def __call__(self, ctx):
        self.calls += 1
        ctx.usage = Usage(4, 1)
        if ctx.state.get("capture") is not None:
            ctx.state["capture"].response("canonical", self.answer)
        await respond.send_json(ctx, 200, dumps(self.answer))


async def run(ctx, upstream, runtime):
    """One request through the step, then its background cache writes."""
    await cache_lookup(ctx, upstream)
    await asyncio.gather(*runtime.tasks)


def header(ctx):
    return dict(ctx.response_headers).get(b"x-switchyard-cache")


async def test_it_answers_the_second_call_from_the_cache(memory_cache):
    upstream = Upstream()
    first, second = context(), context()
    await run(first, upstream, memory_cache)
    await run(second, upstream, memory_cache)
    assert upstream.calls == 1
    assert (header(first), header(second)) == (b"miss", b"hit")
    assert second.cache_status == "hit" and second.state["cost_saved_usd"] == "0" and second.usage is None


async def test_it_runs_the_call_untouched_on_routes_without_a_cache():
    upstream = Upstream()
    ctx = context(cache={"enabled": False})
    await cache_lookup(ctx, upstream)
    assert upstream.calls == 1 and header(ctx) is None and ctx.cache_status == "" and "capture" not in ctx.state


@pytest.mark.parametrize("directive,stored", [("no-cache", True), ("no-store", False)])
async def test_it_bypasses_on_cache_control(directive, stored, memory_cache):
    upstream = Upstream()
    ctx = context(headers={"cache-control": f"max-age=0, {directive}"})
    await run(ctx, upstream, memory_cache)
    assert header(ctx) == b"bypass" and ctx.cache_status == "bypass"
    after = context()
    await run(after, upstream, memory_cache)
    assert header(after) == (b"hit" if stored else b"miss")


async def test_it_does_not_store_a_truncated_answer(memory_cache):
    upstream = Upstream(finish="length")
    for _ in range(2):
        await run(context(), upstream, memory_cache)
    assert upstream.calls == 2


async def test_it_does_not_store_when_the_call_fails(memory_cache):
    async def failing(ctx):
        raise RuntimeError("upstream broke")

    with pytest.raises(RuntimeError):
        await run(context(), failing, memory_cache)
    upstream = Upstream()
    await run(context(), upstream, memory_cache)
    assert upstream.calls == 1


async def test_it_treats_a_failing_semantic_store_as_a_miss(memory_cache, monkeypatch):
    import numpy as np

    async def embed(ctx, route, text):
        return "test", np.ones(4, dtype=np.float32) / 2

    async def broken(*args):
        raise ConnectionError("database down")

    monkeypatch.setattr(service.embedder, "embed", embed)
    monkeypatch.setattr(memory_cache.semantic, "search", broken)
    monkeypatch.setattr(memory_cache.semantic, "insert", lambda fields, ttl: asyncio.sleep(0))
    upstream = Upstream()
    ctx = context(cache={"semantic": {"enabled": True}})
    await run(ctx, upstream, memory_cache)
    assert upstream.calls == 1 and header(ctx) == b"miss"
