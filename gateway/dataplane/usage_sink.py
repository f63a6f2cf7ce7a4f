"""Where the data plane puts usage events: never blocks a request, never loses one.

`emit()` appends to an in-memory buffer (no I/O on the request path). A flush
task moves the buffer every FLUSH_INTERVAL_S to the Redis stream; if Redis
fails, to the local spool file, which is replayed into the stream once Redis
answers again. Embedded mode (no Redis) spools always and a replay writes the
spool into the ledger from a worker thread (the in-process batcher).
"""
from __future__ import annotations

import asyncio
import logging

from billing import spool
from billing.usage_entries import STREAM
from billing.usage_text import encodable_entries

log = logging.getLogger("switchyard.usage")
FLUSH_INTERVAL_S = 0.05  # bounds what a hard crash can lose to ~50 ms of events
REPLAY_INTERVAL_S = 1.0
MAX_BUFFER = 5000  # flush early under a burst


class UsageSink:
    def __init__(self, redis_client, spool_dir, ledger_writer=None):
        self.redis = redis_client  # redis.asyncio client, or None in embedded mode
        self.spool_dir = spool_dir
        self.ledger_writer = ledger_writer  # sync callable(events), embedded mode
        self.buffer: list[dict] = []
        self.redis_ok = True
        self._tasks: list[asyncio.Task] = []
        self._wake = asyncio.Event()

    def emit(self, event: dict) -> None:
        self.buffer.append(event)
        if len(self.buffer) >= MAX_BUFFER:
            self._wake.set()

    def start(self):
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._flush_loop()), asyncio.create_task(self._replay_loop())]

    async def stop(self):
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.flush()
        await self.replay()

    async def _flush_loop(self):
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def _replay_loop(self):
        while True:
            await asyncio.sleep(REPLAY_INTERVAL_S)
            try:
                await self.replay()
            except Exception:  # noqa: BLE001 - keep the loop alive; the spool keeps the events
                log.exception("usage spool replay failed; will retry")

    async def flush(self):
        if not self.buffer:
            return
        events, self.buffer = self.buffer, []
        if self.redis is not None and await self._publish(events):
            return
        await asyncio.to_thread(spool.append, self.spool_dir, events)

    async def _publish(self, events) -> bool:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for entry in encodable_entries(events):  # an encode error is no reason to spool
                pipe.xadd(STREAM, entry)
            await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - any Redis failure means: spool
            if self.redis_ok:
                log.error("usage events: Redis unreachable (%s); spooling locally", type(exc).__name__)
            self.redis_ok = False
            return False
        if not self.redis_ok:
            log.error("usage events: Redis is back; replaying the spool")
        self.redis_ok = True
        return True

    async def replay(self):
        if self.redis is None:
            if self.ledger_writer is not None:
                await asyncio.to_thread(spool.replay, self.spool_dir, self.ledger_writer, True)
            return
        if not self.redis_ok and not await self._ping():
            return
        await asyncio.to_thread(spool.replay, self.spool_dir, self._publish_sync, True)

    async def _ping(self) -> bool:
        try:
            await self.redis.ping()
        except Exception:  # noqa: BLE001
            return False
        return True

    def _publish_sync(self, events):
        from billing.usage_stream import publish

        publish(self._sync_client(), events)

    def _sync_client(self):
        import redis

        pool = self.redis.connection_pool
        return redis.Redis(connection_pool=redis.ConnectionPool(**pool.connection_kwargs))
