"""Budget counters in Redis: the reserve and settle round trips, and the reconcile job's repair.

Two Lua scripts on the hot path, one EVALSHA each (EVAL with the source after
a SCRIPT FLUSH or a Redis restart), sent over the data plane's pipelined client
(redis_wire.py), like the rate limits: one multiplexed connection, no pool.
Through redis-py's pool (200 connections, 2-s wait) a burst of more calls in
flight than connections left some waiting 2 s for one; the pool's "No
connection available." is a RedisError, so block budgets answered 503
budget_unavailable while Redis answered every command in microseconds.
Now a reserve fails only when Redis itself does not answer. `local.py`
implements the same operations in process memory for embedded mode; tests run
both through the same scenarios.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from redis.exceptions import RedisError

from gateway.dataplane.budgets import lua, money
from gateway.dataplane.budgets.plan import Counter
from gateway.dataplane.redis_wire import Script

# Reserve outcomes; a refusal carries the mode of the budget to blame (plan.REFUSE, plan.DOWNGRADE_MODE).
ADMITTED, REFUSED, DOWNGRADED = 0, 1, 2
RELEASE, CHARGE = 1, 2  # settle flags, per counter


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: int  # ADMITTED, REFUSED or DOWNGRADED
    index: int = -1  # the budget to blame, 0-based
    left_micro: int = 0


@dataclass(frozen=True, slots=True)
class Reconciled:
    drift_pico: int  # what the counter was short of the ledger (negative: it was over)
    lapsed: int  # reservations dropped because their time ran out
    reserved_micro: int
    open: int
    fresh: bool = False  # the counter did not exist: it was initialised from the ledger, not repaired


class Status(NamedTuple):
    spent_pico: int
    reserved_micro: int
    open: int


def _pairs(counters) -> list[str]:
    return [k for c in counters for k in (c.key, c.reservations)]


_RESERVE, _SETTLE = Script(lua.RESERVE), Script(lua.SETTLE)


class RedisCounters:
    """The data plane's side: the pipelined client (redis_wire.WireRedis), which raises redis-py's errors."""

    errors: tuple[type[BaseException], ...] = (RedisError, OSError)

    def __init__(self, client):
        self.client = client

    async def reserve(self, counters: list[Counter], member: str, ttl: int, cost: int) -> Verdict:
        args = [member, ttl, cost]
        for c in counters:
            args += [c.amount_micro, c.mode, c.expire_at]
        outcome, index, left = await self.client.evalsha(_RESERVE, _pairs(counters), args)
        return Verdict(int(outcome), int(index) - 1, int(left))

    async def settle(self, items: list[tuple[Counter, int]], member: str, reserved: int, actual_pico: int,
                     minute: int) -> None:
        micro, rest = money.split(actual_pico)
        args = [member, reserved, micro, rest, minute]
        for c, flags in items:
            args += [flags, c.expire_at]
        await self.client.evalsha(_SETTLE, _pairs(c for c, _ in items), args)


class SyncRedisCounters:
    """The reconcile job's side (Celery): a synchronous redis client."""

    def __init__(self, client):
        self.client = client
        self._reconcile = client.register_script(lua.RECONCILE)

    def reconcile(self, c: Counter, cut_minute: int, before_cut_pico: int, recent: dict[int, int]) -> Reconciled:
        """`recent`: the ledger's spend per minute from the cut on (used when the counter is new)."""
        args = [cut_minute, *money.split(before_cut_pico), c.expire_at]
        for minute, pico in recent.items():
            args += [minute, *money.split(pico)]
        du, dp, lapsed, reserved, open_, fresh = self._reconcile(keys=[c.key, c.reservations], args=args)
        return Reconciled(money.join(int(du), int(dp)), int(lapsed), int(reserved), int(open_), bool(fresh))

    def status(self, c: Counter) -> Status:
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(c.key, "u", "p", "r")
        pipe.zcard(c.reservations)
        (u, p, r), open_ = pipe.execute()
        return Status(money.join(int(u or 0), int(p or 0)), int(r or 0), int(open_))
