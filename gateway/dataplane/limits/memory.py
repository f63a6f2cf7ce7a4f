"""Embedded mode: the same sliding-window log, exact, in this process's memory.

One event loop and no await between check and consume make each acquire atomic
without a lock. Counters are per process, so `gateway.run` starts a single server
worker in embedded mode: N workers would each admit the full limit.
"""
from __future__ import annotations

import time
from collections import deque

from gateway.dataplane.limits.base import PARALLEL_WAIT_MS, WINDOW_MS, Limiter
from gateway.dataplane.limits.rules import Rule
from gateway.dataplane.limits.verdict import UNLIMITED, Lease

NONE = (UNLIMITED, UNLIMITED, 0)


class _Counters:
    """One scope's logs: request times, token entries [at, tokens, counted], held slots."""

    __slots__ = ("requests", "tokens", "total", "leases")

    def __init__(self) -> None:
        self.requests: deque[float] = deque()
        self.tokens: deque[list] = deque()
        self.total = 0
        self.leases: set[str] = set()

    def trim(self, cutoff: float) -> None:
        while self.requests and self.requests[0] <= cutoff:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= cutoff:
            entry = self.tokens.popleft()
            self.total -= entry[1]
            entry[2] = False

    def refusals(self, rule: Rule, need: int, now: float):
        """(metric code, wait ms) for each limit this request would break."""
        if rule.rpm is not None and len(self.requests) + 1 > rule.rpm:
            yield 1, WINDOW_MS if rule.rpm == 0 else self.requests[len(self.requests) - rule.rpm] + WINDOW_MS - now
        if rule.tpm is not None and self.total + need > rule.tpm:
            yield 2, WINDOW_MS if need > rule.tpm else self._tokens_wait(self.total + need - rule.tpm, now)
        if rule.max_parallel is not None and len(self.leases) + 1 > rule.max_parallel:
            yield 3, PARALLEL_WAIT_MS

    def _tokens_wait(self, excess: int, now: float) -> float:
        freed = 0
        for at, tokens, _counted in self.tokens:
            freed += tokens
            if freed >= excess:
                return at + WINDOW_MS - now
        return WINDOW_MS

    def consume(self, rule: Rule, member: str, need: int, now: float):
        if rule.rpm is not None:
            self.requests.append(now)
        if rule.max_parallel is not None:
            self.leases.add(member)
        if rule.tpm is None:
            return None
        entry = [now, need, True]
        self.tokens.append(entry)
        self.total += need
        return entry


class MemoryLimiter(Limiter):
    client = None  # no shared store: see get_limiter

    def __init__(self, clock=time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._scopes: dict[str, _Counters] = {}

    async def _acquire(self, member: str, rules: list[Rule], tokens: int):
        now = self._clock() * 1000
        scopes = [self._scopes.get(rule.ident) or self._scopes.setdefault(rule.ident, _Counters()) for rule in rules]
        refused, metric, wait = 0, 0, -1
        for i, (rule, counters) in enumerate(zip(rules, scopes, strict=True), 1):
            counters.trim(now - WINDOW_MS)
            for code, ms in counters.refusals(rule, tokens, now):
                if ms > wait:
                    refused, metric, wait = i, code, ms
        handle = None
        if not refused:
            handle = {rule.ident: c.consume(rule, member, tokens, now) for rule, c in zip(rules, scopes, strict=True)}
        return [int(not refused), refused, metric, wait, now, *_tightest(rules, scopes, now)], now, handle

    def _settle(self, lease: Lease, used_tokens: int, on_reply) -> None:
        self._reconcile(lease, used_tokens)
        on_reply(None, None)

    def _reconcile(self, lease: Lease, used_tokens: int) -> None:
        now = self._clock() * 1000
        for rule in lease.rules:
            counters = self._scopes[rule.ident]
            counters.leases.discard(lease.member)
            entry = lease.handle[rule.ident]
            if entry is None:
                continue
            counters.trim(now - WINDOW_MS)
            if entry[2]:  # still in the window: same moment, real size
                counters.total += used_tokens - entry[1]
                entry[1] = used_tokens
            elif used_tokens > 0:  # the call outlived the window: count what it used from now
                counters.tokens.append([now, used_tokens, True])
                counters.total += used_tokens


def _tightest(rules, scopes, now: float) -> list:
    """Limit, left and reset ms of the scope with the least left, for requests and for tokens."""
    requests, tokens = NONE, NONE
    for rule, c in zip(rules, scopes, strict=True):
        if rule.rpm is not None:
            reset = c.requests[0] + WINDOW_MS - now if c.requests else 0
            requests = _tighter(requests, (rule.rpm, rule.rpm - len(c.requests), reset))
        if rule.tpm is not None:
            reset = c.tokens[0][0] + WINDOW_MS - now if c.tokens else 0
            tokens = _tighter(tokens, (rule.tpm, rule.tpm - c.total, reset))
    return [*requests, *tokens]


def _tighter(best: tuple, candidate: tuple) -> tuple:
    if best[0] == UNLIMITED or (candidate[1], candidate[0]) < (best[1], best[0]):
        return candidate
    return best
