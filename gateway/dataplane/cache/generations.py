"""Per-route cache generations: invalidating a route's cache is one increment.

Every entry (exact and semantic) records the generation of its route when it
was looked up; an entry of an older generation is a miss. So invalidation is
O(1) whatever the number of entries, and stale entries simply age out on
their TTL.

* Production (REDIS_URL): `INCR sy:cache:gen:<route id>`; lookups read it in the
  same MGET as the entry, so it costs no extra round trip. The key has no TTL,
  so `volatile-*` eviction policies never drop it.
* Embedded (no Redis): each server process keeps its own in-process cache, so the
  counters live in a JSON file under var/ that every process re-reads when its
  mtime changes (checked at most every POLL_S), as the config version does.
"""
from __future__ import annotations

import json
import os
import time
from functools import lru_cache
from pathlib import Path

from django.conf import settings

REDIS_KEY = "sy:cache:gen:{}"
POLL_S = 0.5  # an invalidation reaches every embedded process within half a second


def redis_key(route_id: int) -> str:
    return REDIS_KEY.format(route_id)


def _file() -> Path:
    return Path(settings.VAR_DIR) / "cache_generations.json"


@lru_cache(maxsize=1)
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)


def bump(route_id: int) -> int:
    """Control plane: start a new generation for the route; returns it."""
    if settings.REDIS_URL:
        return int(_redis().incr(redis_key(route_id)))
    path = _file()
    path.parent.mkdir(parents=True, exist_ok=True)
    table = _read(path)
    table[str(route_id)] = table.get(str(route_id), 0) + 1
    tmp = path.with_suffix(f".{os.getpid()}")
    tmp.write_text(json.dumps(table))
    os.replace(tmp, path)  # atomic: readers see the old table or the new one
    return table[str(route_id)]


def current(route_id: int) -> int:
    """Control plane: the route's generation now."""
    if settings.REDIS_URL:
        return int(_redis().get(redis_key(route_id)) or 0)
    return _read(_file()).get(str(route_id), 0)


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text() or "{}")
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class FileGenerations:
    """Data plane, embedded mode: the file's table, re-read only when it changed."""

    def __init__(self, path: Path | None = None):
        self.path = path or _file()
        self.table: dict = {}
        self._mtime: int | None = None
        self._checked = 0.0

    def get(self, route_id: int) -> int:
        now = time.monotonic()
        if now - self._checked >= POLL_S:
            self._checked = now
            self._reload()
        return int(self.table.get(str(route_id), 0))

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime != self._mtime:
            self._mtime = mtime
            self.table = _read(self.path) if mtime is not None else {}
