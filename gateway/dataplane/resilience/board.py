"""The breaker board: which targets may get traffic, answered from memory on the hot path.

`open` and `cool` are this process's view: target id -> epoch seconds. An empty
view (the normal case) costs one truth test per request. With Redis, outcomes
are batched and written, and the view re-read, by one background task: every
REFRESH_S (so a breaker another process opened is seen within ~1 s), and at once
after a failure, which the failing request waits for (so the next request,
here or in a process that reads the view, finds the breaker as it now is).
Without Redis (embedded mode) the store is this process's memory. If Redis
fails, the board falls back to that memory: breakers keep working per process
until Redis answers again.
"""
from __future__ import annotations

import asyncio
import logging
import time

from gateway.dataplane.resilience.store import CLAIM_CLOSED, Batch, MemoryStore

log = logging.getLogger("switchyard.dataplane")
REFRESH_S = 1.0  # how stale a process's view of other processes' breakers may get
# A bogus Retry-After (hours) must not hold a deployment out longer than a breaker would.
MAX_COOLDOWN_S = 600.0


class BreakerBoard:
    def __init__(self, shared=None, clock=time.time):
        self.local = MemoryStore()
        self.shared = shared  # RedisStore or None
        self.clock = clock
        self.open: dict[int, float] = self.local.open
        self.cool: dict[int, float] = self.local.cool
        self.warm = shared is None  # False until this process has read the shared view once
        self._one = Batch()
        self._pending: dict[int, tuple[Batch, object]] = {}
        self._pending_cools: dict[int, float] = {}
        self._settling: dict[int, bool | None] = {}  # probe verdicts on their way to Redis
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._first: asyncio.Task | None = None
        self._flushed: asyncio.Future | None = None
        self._background: set[asyncio.Task] = set()
        self._redis_ok = True

    # --- the hot path ----------------------------------------------------------------------------

    def record(self, target_id: int, settings, ok: bool) -> None:
        """One finished attempt of a target in closed (or re-admitted) state."""
        if not settings.enabled:
            return
        if self.shared is None:
            one = self._one  # reused: embedded mode counts each outcome at once, nothing to keep
            one.ok, one.failed, one.trailing, one.had_success = (1, 0, 0, True) if ok else (0, 1, 1, False)
            self.local.apply(target_id, one, settings, self.clock())
            return
        pending = self._pending.get(target_id)
        if pending is None:
            pending = self._pending[target_id] = (Batch(), settings)
        pending[0].add(ok)
        self._ensure_task()

    def cool_down(self, target_id: int, seconds: float) -> None:
        """A 429 with Retry-After: no traffic to this target until then, in every process."""
        until = self.clock() + min(seconds, MAX_COOLDOWN_S)
        self.cool[target_id] = max(until, self.cool.get(target_id, 0.0))
        if self.shared is not None:
            self._pending_cools[target_id] = self.cool[target_id]
            self._ensure_task()

    def expire_cooldowns(self, now: float) -> None:
        """Forget cooldowns that ended, so the view is empty (the fast path) again."""
        for target_id in [t for t, until in self.cool.items() if until <= now]:
            del self.cool[target_id]

    async def flush(self) -> None:
        """After a failure or a 429: return once Redis has it (at once when embedded)."""
        if self.shared is None or not self._redis_ok or not (self._pending or self._pending_cools):
            return  # nothing to share, or Redis is down and the local store has it already
        if self._flushed is None:
            self._flushed = asyncio.get_running_loop().create_future()
        waiter = self._flushed
        self._ensure_task()
        self._wake.set()
        await asyncio.shield(waiter)

    async def claim_probe(self, target_id: int, ttl: float) -> int:
        """Half-open: may this request be the one probe? (A Redis round trip, rare by design.)

        CLAIM_GRANTED: it is the probe; CLAIM_CLOSED: the breaker closed meanwhile (another
        process's probe succeeded), an ordinary attempt; CLAIM_BUSY: skip this target.
        """
        result = await self._shared_or_local("claim", target_id, self.clock(), ttl)
        if result == CLAIM_CLOSED:
            self.open.pop(target_id, None)
        return result

    def settle_probe(self, target_id: int, settings, verdict: bool | None) -> None:
        """A probe ended: True closes the breaker, False opens it again, None (no verdict,
        e.g. the client left) lets another request probe. Never waits: it may run while
        the request is being cancelled."""
        if self.shared is None or not self._redis_ok:
            self._settle_local(target_id, settings, verdict)
            return
        self._settling[target_id] = verdict
        self._provisional(target_id, settings, verdict)
        task = asyncio.get_running_loop().create_task(self._settle_shared(target_id, settings, verdict))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def warm_up(self) -> None:
        """A process's first requests wait for one read of the shared view (once per process),
        so a breaker another process opened is respected from the first request on."""
        if self._first is None:
            self._first = asyncio.get_running_loop().create_task(self._first_sync())
        await asyncio.shield(self._first)

    async def close(self) -> None:
        """Stop the background work (tests; a server process just exits)."""
        for task in (self._task, self._first, *self._background):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._first, *self._background) if t), return_exceptions=True)

    # --- probes ------------------------------------------------------------------------------------

    def _provisional(self, target_id, settings, verdict):
        """Until Redis answers: a good probe closes here at once, a bad one allows no new probe."""
        if verdict:
            self.open.pop(target_id, None)
        elif verdict is False:
            self.open[target_id] = max(self.open.get(target_id, 0.0), self.clock() + settings.cooldown_s)

    def _settle_local(self, target_id, settings, verdict):
        if verdict is None:
            self.local.release(target_id)
        else:
            self.local.probe_done(target_id, verdict, settings, self.clock())

    async def _settle_shared(self, target_id, settings, verdict):
        try:
            if verdict is None:
                await self.shared.release(target_id)
                return
            open_until = await self.shared.probe_done(target_id, verdict, settings, self.clock())
        except Exception as exc:  # noqa: BLE001 - Redis failed: settle it in this process
            self._redis_down(exc)
            self._settle_local(target_id, settings, verdict)
            return
        finally:
            self._settling.pop(target_id, None)
        if open_until:
            self.open[target_id] = open_until
        else:
            self.open.pop(target_id, None)

    # --- the shared store --------------------------------------------------------------------------

    async def _shared_or_local(self, method: str, *args):
        if self.shared is not None and self._redis_ok:
            try:
                return await getattr(self.shared, method)(*args)
            except Exception as exc:  # noqa: BLE001 - any Redis failure: decide in this process
                self._redis_down(exc)
        return getattr(self.local, method)(*args)

    async def _first_sync(self) -> None:
        try:
            await self.sync()
        except Exception as exc:  # noqa: BLE001 - Redis down: start with this process's view
            self._redis_down(exc)
        self.warm = True
        self._ensure_task()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._sync_loop())

    async def _sync_loop(self):
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), REFRESH_S)
            except TimeoutError:
                pass
            self._wake.clear()
            waiter, self._flushed = self._flushed, None  # flush() calls from now on wait for the next round
            try:
                await self.sync()
            except Exception as exc:  # noqa: BLE001 - keep the loop alive; the view stays as it was
                self._redis_down(exc)
            finally:
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def sync(self):
        """Write pending outcomes and cooldowns, refresh the view: one round trip."""
        batches = [(tid, batch, settings) for tid, (batch, settings) in self._pending.items()]
        cools, now = self._pending_cools, self.clock()
        self._pending, self._pending_cools = {}, {}
        try:
            opened, open_view, cool_view = await self.shared.sync(batches, cools, now)
        except Exception:
            for tid, batch, settings in batches:  # Redis is down: count them here instead
                self.local.apply(tid, batch, settings, now)
            self.local.cool.update(cools)
            raise
        if not self._redis_ok:
            log.warning("breaker board: Redis answers again; sharing breaker state")
            self._redis_ok = True
        open_view.update(opened)
        for tid, until in self._pending_cools.items():  # 429s seen while this round trip ran
            cool_view[tid] = max(until, cool_view.get(tid, 0.0))
        for tid, verdict in self._settling.items():
            if verdict:
                open_view.pop(tid, None)
        self.open, self.cool = open_view, cool_view

    def _redis_down(self, exc: Exception) -> None:
        if self._redis_ok:
            log.error("breaker board: Redis unreachable (%s); breakers work per process", type(exc).__name__)
        self._redis_ok = False
        self.open, self.cool = self.local.open, self.local.cool
