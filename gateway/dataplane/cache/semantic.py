"""The semantic cache's search: pgvector when the database has it, else an in-process index.

In-process: one NumPy matrix of unit vectors per (route, scope, generation),
loaded from the database on first use and topped up with newer rows every
REFRESH_S, so answers written by other server processes are found too.
Cosine similarity of unit vectors is one matrix-vector product; at the
LOAD_LIMIT rows kept per scope that is a couple of milliseconds, run in a
worker thread. With pgvector (detected once per process) the database's
HNSW index answers instead and nothing is held in memory.
"""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

import numpy as np

from gateway.dataplane.cache import semantic_db

REFRESH_S = 2.0  # other processes' new entries become visible within this
# Ids below the last reload's highest read again: other processes' inserts commit in any order, so
# an id lower than one already loaded can appear just after (ids known here are skipped).
RELOAD_OVERLAP = 100
MAX_SCOPES = 1_000  # indexes held per process; the least recently used is dropped (and reloaded if needed)


class ScopeIndex:
    """Vectors of one scope. `data` is replaced whole, never changed in place, so a search
    running in a worker thread always sees ids, vectors and expiries that belong together."""

    def __init__(self, generation: int):
        self.generation = generation
        self.data: tuple[tuple[int, ...], np.ndarray, np.ndarray] | None = None
        self.known: set[int] = set()
        # The highest id a reload returned. Not the highest id seen: our own writes finish in any
        # order (worker threads), and one that finished after a later write was dropped as "old".
        self.loaded_max = 0
        self.refreshed = 0.0

    def add(self, rows: list[tuple[int, bytes, float]], loaded: bool = False) -> None:
        if loaded and rows:
            self.loaded_max = max(self.loaded_max, max(pk for pk, _, _ in rows))
        rows = [r for r in rows if r[0] not in self.known]  # a row can arrive both from our write and a reload
        if not rows:
            return
        self.known.update(pk for pk, _, _ in rows)
        ids = tuple(pk for pk, _, _ in rows)
        vectors = np.stack([np.frombuffer(vec, dtype="<f4") for _, vec, _ in rows])
        expires = np.array([exp for _, _, exp in rows], dtype=np.float64)
        if self.data is not None:
            ids = self.data[0] + ids
            vectors = np.vstack([self.data[1], vectors])
            expires = np.concatenate([self.data[2], expires])
        self.data = (ids, vectors, expires)

    def best(self, vector: np.ndarray) -> tuple[int, float] | None:
        if self.data is None:
            return None
        ids, vectors, expires = self.data
        similarities = vectors @ vector
        similarities[expires <= time.time()] = -1.0  # expired entries never match
        i = int(np.argmax(similarities))
        return (ids[i], float(similarities[i])) if similarities[i] > -1.0 else None


class SemanticCache:
    def __init__(self):
        self.indexes: OrderedDict[tuple, ScopeIndex] = OrderedDict()
        self.pgvector: bool | None = None

    async def search(self, route_id: int, scope: str, generation: int, vector: np.ndarray):
        """(entry id, similarity) of the nearest live entry, or None."""
        if await self._pgvector():
            data = vector.astype("<f4").tobytes()
            return await asyncio.to_thread(semantic_db.pgvector_search, route_id, scope, generation, data,
                                           len(vector))
        index = await self._index(route_id, scope, generation)
        return await asyncio.to_thread(index.best, vector)

    async def fetch(self, entry_id: int):
        return await asyncio.to_thread(semantic_db.fetch, entry_id)

    async def record_shadow(self, fields: dict) -> None:
        await asyncio.to_thread(semantic_db.record_shadow, fields)

    async def insert(self, fields: dict, ttl: int) -> None:
        """Write one entry (call it in a background task); our own index sees it at once."""
        key = (fields["route_id"], fields["scope"], fields["generation"])
        vector = fields["vector"]
        entry_id = await asyncio.to_thread(semantic_db.insert, dict(fields), ttl, bool(await self._pgvector()))
        index = self.indexes.get(key)
        if index is not None:
            index.add([(entry_id, vector, time.time() + ttl)])

    async def _index(self, route_id: int, scope: str, generation: int) -> ScopeIndex:
        key = (route_id, scope, generation)
        index = self.indexes.get(key)
        if index is None:
            index = ScopeIndex(generation)
            self.indexes[key] = index
            while len(self.indexes) > MAX_SCOPES:
                self.indexes.popitem(last=False)
        self.indexes.move_to_end(key)
        if time.monotonic() - index.refreshed >= REFRESH_S:
            index.refreshed = time.monotonic()
            after = max(0, index.loaded_max - RELOAD_OVERLAP)
            index.add(await asyncio.to_thread(semantic_db.load, route_id, scope, generation, after), loaded=True)
        return index

    async def _pgvector(self) -> bool:
        if self.pgvector is None:
            try:
                self.pgvector = await asyncio.to_thread(semantic_db.pgvector_ready)
            except Exception:  # noqa: BLE001 - the database will say again on the next try
                return False
        return self.pgvector
