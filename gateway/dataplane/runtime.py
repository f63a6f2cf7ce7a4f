"""Per-process state of the data plane: snapshot, upstream client, usage sink.

Created at ASGI lifespan start-up inside the server's event loop. The snapshot
is swapped whole by a watcher task when the config version changes (checked
every VERSION_POLL_S) or its TTL runs out; requests only read the reference.
"""
from __future__ import annotations

import asyncio
import logging
import time

from django.conf import settings
from django.db import close_old_connections

from gateway.dataplane.http import UpstreamClient
from gateway.dataplane.netguard import parse_cidrs
from gateway.dataplane.redis_wire import WireRedis
from gateway.dataplane.snapshot import EMPTY, Snapshot
from gateway.dataplane.usage_sink import UsageSink
from gateway.services import config_version

log = logging.getLogger("switchyard.dataplane")
VERSION_POLL_S = 0.5  # revocations reach every process within ~2 s (RELIABILITY.md B13)
SNAPSHOT_TTL_S = 30.0  # backstop when the version signal is lost (Redis down)
VERSION_KEY = config_version.REDIS_KEY
REDIS_POOL_SIZE = 200  # per process; well above the policies' round trips at 10k concurrent streams


class Runtime:
    def __init__(self):
        self.snapshot: Snapshot = EMPTY
        self.client = UpstreamClient(settings.SSRF_ALLOW_PRIVATE, parse_cidrs(settings.SSRF_ALLOW_CIDRS))
        self.redis = None  # redis-py: usage stream, breaker board, budgets, config version
        self.wire = None  # the hot path's pipelined client (rate limits, exact cache): redis_wire.py
        self.sink: UsageSink | None = None
        self._watcher: asyncio.Task | None = None

    async def start(self):
        from billing import spool

        if settings.REDIS_URL:
            import redis.asyncio as aioredis

            # Blocking pool: a burst waits briefly for a connection instead of failing at once.
            pool = aioredis.BlockingConnectionPool.from_url(
                settings.REDIS_URL, max_connections=REDIS_POOL_SIZE, timeout=2, socket_timeout=2,
                socket_connect_timeout=2,
            )
            self.redis = aioredis.Redis(connection_pool=pool)
            self.wire = WireRedis(settings.REDIS_URL, timeout=2)
        writer = None if self.redis else _embedded_ledger_writer
        self.sink = UsageSink(self.redis, spool.spool_dir(settings.VAR_DIR), ledger_writer=writer)
        self.sink.start()
        await self.refresh(force=True)
        self._watcher = asyncio.create_task(self._watch())

    async def stop(self):
        if self._watcher:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        if self.sink:
            await self.sink.stop()
        await self.client.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.wire is not None:
            await self.wire.aclose()

    async def _watch(self):
        while True:
            await asyncio.sleep(VERSION_POLL_S)
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - keep serving the last good snapshot
                log.exception("snapshot refresh failed; serving the previous configuration")

    async def current_version(self) -> int:
        if self.redis is None:
            return config_version.current()  # a file under var/: one stat and a read
        try:
            return int(await self.redis.get(VERSION_KEY) or 0)
        except Exception:  # noqa: BLE001 - Redis down: rely on the TTL
            return self.snapshot.version

    async def refresh(self, force=False):
        version = await self.current_version()
        stale = time.time() - self.snapshot.built_at > SNAPSHOT_TTL_S
        if force or stale or version != self.snapshot.version:
            self.snapshot = await asyncio.to_thread(_build, version)


def _build(version):
    from gateway.dataplane.snapshot_builder import build_snapshot

    try:
        return build_snapshot(version)
    finally:
        close_old_connections()


def _embedded_ledger_writer(events):
    from billing.ledger import ledger_write

    try:
        ledger_write(events)
    finally:
        close_old_connections()


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


def reset_runtime():
    """Tests: forget the process's runtime (after stopping it)."""
    global _runtime
    _runtime = None

