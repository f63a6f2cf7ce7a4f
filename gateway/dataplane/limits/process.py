"""The process's limiter: Redis-backed when the runtime has Redis, else in-process."""
from __future__ import annotations

from gateway.dataplane.limits.base import Limiter
from gateway.dataplane.limits.memory import MemoryLimiter
from gateway.dataplane.limits.redis_backend import RedisLimiter
from gateway.dataplane.runtime import get_runtime

_limiter: Limiter | None = None  # per process, like the runtime it follows (its counters or its script digests)


def get_limiter() -> Limiter:
    global _limiter
    client = get_runtime().wire
    if _limiter is None or _limiter.client is not client:
        _limiter = RedisLimiter(client) if client is not None else MemoryLimiter()
    return _limiter
