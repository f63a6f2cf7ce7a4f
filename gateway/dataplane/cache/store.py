"""Exact-cache entries: Redis in production, an in-process LRU in embedded mode.

An entry is compact JSON: {"gen", "cost", "at", "answer"}. Redis keeps one key
per entry with the route's TTL (SET EX); the LRU keeps an expiry per entry and
is bounded in entries and bytes. A store that fails (Redis down) answers miss
and drops writes: caching is an optimisation and must never fail a request.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict

from gateway.dataplane import fastjson
from gateway.dataplane.cache import generations

log = logging.getLogger("switchyard.cache")
MAX_ENTRIES = 10_000  # embedded mode: enough for a demo or a small team
MAX_BYTES = 64 * 1024 * 1024  # and at most this much answer text held per process
MAX_ENTRY_BYTES = 1024 * 1024  # a larger answer is not cached: one entry must not evict hundreds


def encode(entry: dict) -> bytes:
    return fastjson.dumps(entry)


def _decode(raw, gen: int) -> dict | None:
    if not raw:
        return None
    try:
        entry = fastjson.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and entry.get("gen") == gen else None  # older generation: invalidated


class RedisStore:
    def __init__(self, redis):
        self.redis = redis

    async def get(self, key: str, route_id: int, sent=None) -> tuple[dict | None, int | None]:
        """(entry or None, the route's generation); (None, None) when Redis cannot answer.
        `sent`: the reply of a `get_soon` for the same key."""
        if sent is None:
            sent = self.get_soon(key, route_id)
            if sent is None:
                return None, None
        try:
            raw, gen = await sent
        except Exception as exc:  # noqa: BLE001 - a cache outage is a miss, never an error
            log.warning("cache lookup failed: %s", type(exc).__name__)
            return None, None
        gen = int(gen or 0)
        return _decode(raw, gen), gen

    async def generation(self, route_id: int) -> int | None:
        try:
            return int(await self.redis.execute(b"GET", generations.redis_key(route_id)) or 0)
        except Exception as exc:  # noqa: BLE001
            log.warning("cache generation read failed: %s", type(exc).__name__)
            return None

    def get_soon(self, key: str, route_id: int):
        """Queue the lookup now (beside the rate-limit check); `get(..., sent=)` reads it later."""
        try:
            return self.redis.send(b"MGET", key, generations.redis_key(route_id))
        except Exception as exc:  # noqa: BLE001 - a cache outage is a miss
            log.warning("cache lookup failed: %s", type(exc).__name__)
            return None

    def put_soon(self, key: str, entry: dict, ttl: int):
        """Queue the write without waiting for its reply; returns what completes once it has left
        for Redis (or None). A failure is logged, never raised: a lost write is a later miss."""
        data = encode(entry)
        if len(data) > MAX_ENTRY_BYTES:
            return None
        try:
            self.redis.send_then((b"SET", key, data, b"EX", ttl), _log_failure)
        except Exception as exc:  # noqa: BLE001
            log.warning("cache write failed: %s", type(exc).__name__)
            return None
        return self.redis.leaving()


def _log_failure(_reply, exc) -> None:
    if exc is not None:
        log.warning("cache write failed: %s", type(exc).__name__)


class MemoryStore:
    """Least recently used first out; one per server process."""

    def __init__(self, gens: generations.FileGenerations | None = None):
        self.gens = gens or generations.FileGenerations()
        self.entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.size = 0

    async def get(self, key: str, route_id: int, sent=None) -> tuple[dict | None, int | None]:
        gen = self.gens.get(route_id)
        found = self.entries.get(key)
        if found is None:
            return None, gen
        expires, data = found
        if expires <= time.monotonic():
            self._drop(key)
            return None, gen
        self.entries.move_to_end(key)
        return _decode(data, gen), gen

    async def generation(self, route_id: int) -> int:
        return self.gens.get(route_id)

    def get_soon(self, key: str, route_id: int):
        return None  # nothing to overlap: the lookup is in-process

    def put_soon(self, key: str, entry: dict, ttl: int) -> None:
        data = encode(entry)
        if len(data) > MAX_ENTRY_BYTES:
            return
        self._drop(key)
        self.entries[key] = (time.monotonic() + ttl, data)
        self.size += len(data)
        while len(self.entries) > MAX_ENTRIES or self.size > MAX_BYTES:
            self._drop(next(iter(self.entries)))

    def _drop(self, key: str) -> None:
        found = self.entries.pop(key, None)
        if found is not None:
            self.size -= len(found[1])
