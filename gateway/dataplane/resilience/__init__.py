"""Load balancing, retries, fallbacks and circuit breaking for the call step.

* policy.py      a route's settings, parsed once per snapshot build
* strategies.py  weighted, round robin, least in-flight, lowest latency, lowest cost, sticky canary
* board.py       which targets may take traffic (breakers, 429 cooldowns), shared via Redis
* store.py       the breaker rules (in-process store), redis_store.py the same rules in Lua
* budget.py      retries in flight <= 20 % of requests in flight
* signals.py     per-process load signals (in-flight counts, latency EWMA, round-robin positions)
* failover.py    the attempt loop: retries with backoff, then fallback routes
* classify.py    which errors are retried, count against a target, or fall back
* lag.py         how late the event loop runs (a timeout during a lag is not the target's fault)

The per-process pieces live in one `Resilience` object made on first use, after
the runtime started (it needs the runtime's Redis client, or None when embedded).
"""
from __future__ import annotations

import random

from gateway.dataplane.resilience.board import BreakerBoard
from gateway.dataplane.resilience.budget import RetryBudget
from gateway.dataplane.resilience.lag import LoopLag
from gateway.dataplane.resilience.redis_store import RedisStore
from gateway.dataplane.resilience.signals import LoadSignals
from gateway.dataplane.runtime import get_runtime


class Resilience:
    __slots__ = ("board", "budget", "signals", "rng", "redis", "lag")

    def __init__(self, redis=None, rng=None, clock=None):
        self.redis = redis
        kwargs = {"clock": clock} if clock is not None else {}
        self.board = BreakerBoard(RedisStore(redis) if redis is not None else None, **kwargs)
        self.budget = RetryBudget()
        self.signals = LoadSignals()
        self.rng = rng or random.Random()
        self.lag = LoopLag()


_state: Resilience | None = None


def get_resilience() -> Resilience:
    """This process's board, budget and signals (rebuilt if the runtime's Redis client changed)."""
    global _state
    redis = get_runtime().redis
    if _state is None or _state.redis is not redis:
        _state = Resilience(redis)
    return _state


def set_resilience(state: Resilience | None) -> None:
    """Tests: use this state (None: build a fresh one on next use)."""
    global _state
    _state = state
