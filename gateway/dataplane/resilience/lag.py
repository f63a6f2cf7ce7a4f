"""How late this process's event loop runs. A timeout seen while it lags is (at least partly) ours.

Under a burst (thousands of streams opening at once) the loop can run seconds behind: a connect
or first-byte timer then fires because this process was busy, not because the upstream was slow.
Counting such timeouts against the target's breaker would eject a healthy deployment for a whole
cooldown and turn one burst into minutes of 503s; they are still answered (504) and retried.
"""
from __future__ import annotations

import asyncio

TICK_S = 0.1  # how often the loop is sampled
LATE_S = 0.5  # a tick this much late means the loop is overloaded
REMEMBER_S = 10.0  # a timeout ending this long after the last late tick may have been caused by it


class LoopLag:
    def __init__(self):
        self.lagged_at = float("-inf")  # loop time of the last late tick
        self._task: asyncio.Task | None = None

    def ensure_started(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self):
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(TICK_S)
            now = loop.time()
            if now - before - TICK_S > LATE_S:
                self.lagged_at = now

    def recent(self) -> bool:
        """Did the loop run late within the last REMEMBER_S?"""
        return asyncio.get_running_loop().time() - self.lagged_at < REMEMBER_S

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
