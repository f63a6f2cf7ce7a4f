"""Cache keys, settings, the in-process store and the semantic index."""
from __future__ import annotations

import time
from types import MappingProxyType, SimpleNamespace

import numpy as np
import pytest

from gateway.dataplane.cache import keys
from gateway.dataplane.cache.generations import FileGenerations
from gateway.dataplane.cache.semantic import ScopeIndex
from gateway.dataplane.cache.settings import DEFAULT_TTL_S, cache_settings
from gateway.dataplane.cache.store import MemoryStore

BODY = {"model": "gpt", "messages": [{"role": "user", "content": "hi there"}], "temperature": 0.2}


def ctx_for(tenant_id=1, route_id=10, canonical=None, ingress="openai", body=None, targets=((5, "m1"),)):
    route = SimpleNamespace(id=route_id, targets=[SimpleNamespace(provider=SimpleNamespace(id=p), model=m)
                                                  for p, m in targets])
    return SimpleNamespace(key=SimpleNamespace(tenant_id=tenant_id), route=route, endpoint="chat", state={},
                           canonical=canonical or dict(BODY), ingress=ingress, body=body)


def key_of(**kw):
    ctx = ctx_for(**kw)
    return keys.exact_key(ctx, keys.material(ctx))


def test_it_keys_by_tenant_route_and_targets():
    base = key_of()
    assert base.startswith("sy:cache:1:10:")
    assert len({base, key_of(tenant_id=2), key_of(route_id=11), key_of(targets=((5, "m2"),))}) == 4


def test_it_ignores_fields_that_do_not_change_the_answer():
    noisy = {**BODY, "user": "u1", "stream": True, "stream_options": {"include_usage": True}, "metadata": {"a": 1}}
    assert key_of(canonical=noisy) == key_of()
    assert key_of(canonical={**BODY, "temperature": 0.3}) != key_of()
    assert key_of(canonical={**BODY, "max_completion_tokens": 9}) == key_of(canonical={**BODY, "max_tokens": 9})


def test_it_keys_anthropic_only_fields():
    anthropic = {"model": "gpt", "messages": [], "max_tokens": 5}
    assert key_of(ingress="anthropic", body=anthropic) == key_of()
    assert key_of(ingress="anthropic", body={**anthropic, "top_k": 3}) != key_of()


def test_it_varies_with_what_earlier_steps_declare():
    ctx = ctx_for()
    plain = keys.exact_key(ctx, keys.material(ctx))
    ctx.state["cache_vary"] = {"redaction": "mask"}
    assert keys.exact_key(ctx, keys.material(ctx)) != plain


@pytest.mark.parametrize("change", [
    {"tools": [{"type": "function", "function": {"name": "f"}}]},
    {"temperature": 0.8},
    {"n": 2},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
    {"messages": [{"role": "assistant", "content": None, "tool_calls": []}, {"role": "tool", "content": "r",
                                                                             "tool_call_id": "1"}]},
])
def test_it_skips_the_semantic_cache_for(change):
    assert keys.semantic_parts({**BODY, **change}, 0.7) is None


def test_it_compares_only_the_last_user_message_by_meaning():
    text, context = keys.semantic_parts(BODY, 0.7)
    other_text, same_context = keys.semantic_parts({**BODY, "messages": [{"role": "user", "content": "yo"}]}, 0.7)
    assert (text, other_text) == ("hi there", "yo") and context == same_context
    longer = {**BODY, "messages": [{"role": "system", "content": "be terse"}, *BODY["messages"]]}
    assert keys.semantic_parts(longer, 0.7)[1] != context
    assert keys.semantic_parts({**BODY, "temperature": 0.8}, 0.9) is not None


def route_with(cache):
    return SimpleNamespace(cache=MappingProxyType(cache))


def test_it_reads_route_settings_with_defaults():
    assert cache_settings(route_with({})) is None
    assert cache_settings(route_with({"enabled": False})) is None
    plain = cache_settings(route_with({"enabled": True}))
    assert plain.exact and plain.ttl == DEFAULT_TTL_S and plain.semantic is None
    both = cache_settings(route_with({"ttl": 60, "semantic": {"enabled": True, "shadow": True}}))
    assert not both.exact and both.semantic.shadow and both.semantic.ttl == 60 and both.semantic.threshold == 0.95


def test_it_parses_a_snapshot_routes_settings_once_and_a_plain_dict_every_time(monkeypatch):
    from gateway.dataplane.cache import settings

    parsed = []
    real = settings._settings
    monkeypatch.setattr(settings, "_settings", lambda raw: parsed.append(raw) or real(raw))
    route = SimpleNamespace(cache=MappingProxyType({"enabled": True, "ttl": 60}))  # as the snapshot builds it
    first = cache_settings(route)
    assert cache_settings(route) is first and first.ttl == 60
    assert len(parsed) == 1
    newer = SimpleNamespace(cache=MappingProxyType({"enabled": True, "ttl": 90}))  # the next snapshot's
    assert cache_settings(newer).ttl == 90
    raw = {"enabled": True}
    assert cache_settings(SimpleNamespace(cache=raw)).exact
    raw["enabled"] = False  # a plain dict can change: never remembered
    assert cache_settings(SimpleNamespace(cache=raw)) is None
    assert len(parsed) == 4


async def test_it_evicts_expires_and_invalidates_in_memory(tmp_path):
    store = MemoryStore(FileGenerations(tmp_path / "gens.json"))
    store.put_soon("a", {"gen": 0, "answer": {}}, ttl=60)
    assert (await store.get("a", 1))[0] == {"gen": 0, "answer": {}}
    store.put_soon("b", {"gen": 0}, ttl=0)
    assert (await store.get("b", 1))[0] is None
    store.gens.table, store.gens._checked = {"1": 1}, time.monotonic()
    assert await store.get("a", 1) == (None, 1)  # an older generation is a miss


def test_it_reads_generations_from_the_file_only_when_it_changed(tmp_path):
    path = tmp_path / "gens.json"
    gens = FileGenerations(path)
    assert gens.get(3) == 0
    path.write_text('{"3": 2}')
    gens._checked = 0.0
    assert gens.get(3) == 2


def unit(*values):
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_it_finds_the_nearest_live_vector():
    index = ScopeIndex(generation=0)
    assert index.best(unit(1, 0)) is None
    now = time.time()
    index.add([(1, unit(1, 0).tobytes(), now + 60), (2, unit(0, 1).tobytes(), now + 60)])
    index.add([(2, unit(0, 1).tobytes(), now + 60), (3, unit(1, 1).tobytes(), now - 1)])
    assert index.data[0] == (1, 2, 3)
    found = index.best(unit(1, 0.9))
    assert found[0] == 1 and 0.7 < found[1] < 0.8  # 3 is closer but expired


def test_it_keeps_a_write_that_finished_after_a_later_one():
    index = ScopeIndex(generation=0)
    later = time.time() + 60
    index.add([(7, unit(0, 1).tobytes(), later)])  # writes run in worker threads: 7 may land first
    index.add([(6, unit(1, 0).tobytes(), later)])
    assert sorted(index.data[0]) == [6, 7]
    assert index.best(unit(1, 0))[0] == 6


def test_it_reads_again_below_the_highest_id_a_reload_returned():
    index = ScopeIndex(generation=0)
    later = time.time() + 60
    index.add([(5, unit(1, 0).tobytes(), later), (9, unit(0, 1).tobytes(), later)], loaded=True)
    assert index.loaded_max == 9
    index.add([(8, unit(1, 1).tobytes(), later), (9, unit(0, 1).tobytes(), later)], loaded=True)
    assert sorted(index.data[0]) == [5, 8, 9]  # 8 committed after 9 was read; 9 not doubled
