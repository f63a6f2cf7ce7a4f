"""Production: every process and replica shares the counters in Redis, one script per request.

Slots (max_parallel) are leases that expire after LEASE_TTL_S unless the process holding
them renews them, so a crashed or partitioned process frees its slots within a minute
while a long stream keeps its own.
"""
from __future__ import annotations

import asyncio

from redis.exceptions import RedisError

from gateway.dataplane.limits import scripts
from gateway.dataplane.limits.base import PARALLEL_WAIT_MS, WINDOW_MS, Limiter, log
from gateway.dataplane.limits.rules import Rule
from gateway.dataplane.limits.verdict import Lease
from gateway.dataplane.redis_wire import PreparedCall, Script

# One hash tag: a multi-key script must stay on one Redis Cluster slot.
PREFIX = "{sy:rl}:"
LEASE_TTL_S = 60  # a dead process's slots come back within this
PLANS_MAX = 50_000
RENEW_EVERY_S = 15  # a live one renews 4 times per TTL: three renewals may fail before a slot lapses
NOT_LIMITED = -1


def _limit(value: int | None) -> int:
    return NOT_LIMITED if value is None else value


def _keys(rule: Rule) -> tuple[str, str, str, str]:
    """Requests log, tokens log, tokens total, leases."""
    base = PREFIX + rule.ident
    return base + ":r", base + ":t", base + ":n", base + ":p"


def _limited_keys(rule: Rule) -> list[str]:
    """Only the keys of the metrics this rule limits: fewer arguments to encode per request."""
    base, keys = PREFIX + rule.ident, []
    if rule.rpm is not None:
        keys.append(base + ":r")
    if rule.tpm is not None:
        keys += (base + ":t", base + ":n")
    if rule.max_parallel is not None:
        keys.append(base + ":p")
    return keys


def _plan(rules):
    """(keys, limit arguments, lease keys, (settle keys, number of token rules)) of the rules."""
    keys, limits = [], []
    for rule in rules:
        keys += _limited_keys(rule)
        limits += (_limit(rule.rpm), _limit(rule.tpm), _limit(rule.max_parallel))
    leases = tuple(_keys(rule)[3] for rule in rules if rule.max_parallel is not None)
    token_rules = [rule for rule in rules if rule.tpm is not None]
    settling = (tuple(key for rule in token_rules for key in _keys(rule)[1:3]) + leases, len(token_rules))
    return tuple(keys), tuple(limits), leases, settling


class RedisLimiter(Limiter):
    backend_errors = (RedisError, OSError, asyncio.TimeoutError)

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client
        self._acquire_script = Script(scripts.ACQUIRE)  # sent by digest; the client reloads it after a NOSCRIPT
        self._settle_script = Script(scripts.SETTLE)
        self._renew_script = Script(scripts.RENEW)
        self._held: dict[str, tuple[str, ...]] = {}  # member -> leases keys, renewed while held
        self._plans: dict[int, tuple] = {}  # id(rules) -> (rules, what _prepared returns)
        self._renewer: asyncio.Task | None = None

    async def _acquire(self, member: str, rules, tokens: int):
        call, leases, settling = self._prepared(rules)
        reply = await self.client.run_soon(call, (member, tokens))
        raw = list(map(int, reply.split()))
        if raw[0] and leases:
            self._hold(member, leases)
        return raw, raw[4], settling  # the lease's handle: what its settle sends

    def _settle(self, lease: Lease, used_tokens: int, on_reply):
        self._held.pop(lease.member, None)
        self.client.run_then(lease.handle, (lease.member, lease.tokens, used_tokens, lease.at), on_reply)
        return self.client.leaving()

    def _prepared(self, rules):
        """(prepared acquire call, lease keys, settle handle) of the rules, worked out once per
        tuple: rules_for hands out the same tuple for a key and route until the snapshot changes."""
        found = self._plans.get(id(rules))
        if found is not None and found[0] is rules:
            return found[1]
        keys, limits, leases, (settle_keys, token_rules) = _plan(rules)
        fixed = (WINDOW_MS, int(LEASE_TTL_S * 1000), PARALLEL_WAIT_MS, *limits)
        # The settle's keys and trailing arguments are fixed too; per call: member, tokens held and used, time.
        settling = PreparedCall(self._settle_script, settle_keys, 4, (WINDOW_MS, token_rules))
        plan = PreparedCall(self._acquire_script, keys, 2, fixed), leases, settling  # 2: member, tokens
        if type(rules) is tuple:  # rules_for's, kept; a list is built per call (a target's rule)
            if len(self._plans) >= PLANS_MAX:
                self._plans.clear()
            self._plans[id(rules)] = (rules, plan)  # holding `rules` keeps its id from being reused
        return plan

    def _hold(self, member: str, leases: tuple[str, ...]) -> None:
        self._held[member] = leases
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.ensure_future(self._renew_while_held())

    async def _renew_while_held(self) -> None:
        """Extend the held leases every RENEW_EVERY_S; ends when none is held (no idle task)."""
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            held = list(self._held.items())
            if not held:
                return
            keys = [key for _member, leases in held for key in leases]
            args = [int(LEASE_TTL_S * 1000)] + [member for member, leases in held for _key in leases]
            try:
                await self.client.evalsha(self._renew_script, keys, args)
            except self.backend_errors as exc:
                log.warning("rate-limit lease renewal failed (%s)", type(exc).__name__)
