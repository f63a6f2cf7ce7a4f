"""Breaker state per target, kept in this process (embedded mode, or Redis unreachable).

The rules, mirrored line for line by the Lua in redis_store.py:

* closed: outcomes are counted. It opens after `failures` consecutive failures,
  or when at least `min_requests` requests in the current window (tumbling,
  `window_s` long) failed at a rate of `error_rate` or more.
* open: no traffic until `open_until`. The n-th ejection in a row lasts
  n x `cooldown_s`, capped at `max_cooldown_s`; the count starts over once the
  target stayed healthy for `max_cooldown_s` (Envoy's ejection multiplier).
* half-open (open, `open_until` passed): one probe at a time may go through.
  Its success closes the breaker, its failure opens it again for longer.
  Outcomes of requests that were already running when it opened are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

CLAIM_BUSY, CLAIM_GRANTED, CLAIM_CLOSED = 0, 1, 2


@dataclass(slots=True)
class Batch:
    """Outcomes since the last flush: enough to replay their order's effect on the counters."""

    ok: int = 0
    failed: int = 0
    trailing: int = 0  # failures after the last success in this batch
    had_success: bool = False

    def add(self, ok: bool) -> None:
        if ok:
            self.ok += 1
            self.trailing = 0
            self.had_success = True
        else:
            self.failed += 1
            self.trailing += 1


@dataclass(slots=True)
class TargetState:
    consecutive: int = 0
    window_start: float = 0.0
    window_requests: int = 0
    window_failures: int = 0
    open_until: float = 0.0  # 0: closed
    ejections: int = 0
    closed_at: float = 0.0
    probe_until: float = 0.0


def _eject(state: TargetState, settings, now: float, streak: bool = False) -> float:
    if not streak and now - state.closed_at > settings.max_cooldown_s:
        state.ejections = 0  # healthy long enough: the next ejection is a first one again
    state.ejections += 1
    state.open_until = now + min(settings.cooldown_s * state.ejections, settings.max_cooldown_s)
    state.consecutive = state.window_requests = state.window_failures = 0
    state.window_start, state.probe_until = now, 0.0
    return state.open_until


def apply_batch(state: TargetState, batch: Batch, settings, now: float) -> float:
    """Count a batch of outcomes; returns open_until (0 while closed)."""
    if state.open_until:
        return state.open_until
    state.consecutive = batch.trailing if batch.had_success else state.consecutive + batch.trailing
    if now - state.window_start >= settings.window_s:
        state.window_start, state.window_requests, state.window_failures = now, 0, 0
    state.window_requests += batch.ok + batch.failed
    state.window_failures += batch.failed
    by_count = settings.failures > 0 and state.consecutive >= settings.failures
    by_rate = (settings.error_rate > 0 and state.window_requests >= settings.min_requests
               and state.window_failures >= settings.error_rate * state.window_requests)
    return _eject(state, settings, now) if by_count or by_rate else 0.0


def claim_probe(state: TargetState, now: float, ttl: float) -> int:
    if not state.open_until:
        return CLAIM_CLOSED
    if now < state.open_until or state.probe_until > now:
        return CLAIM_BUSY
    state.probe_until = now + ttl
    return CLAIM_GRANTED


def probe_result(state: TargetState, ok: bool, settings, now: float) -> float:
    """A probe's outcome: closes the breaker (returns 0) or opens it again (returns open_until)."""
    if not ok:
        return _eject(state, settings, now, streak=True)  # still the same outage: the next wait is longer
    state.open_until = state.probe_until = 0.0
    state.consecutive = state.window_requests = state.window_failures = 0
    state.window_start = state.closed_at = now
    return 0.0


class MemoryStore:
    """The breaker board's state in this process; `open`/`cool` are the board's live view."""

    shared = False

    def __init__(self):
        self.states: dict[int, TargetState] = {}
        self.open: dict[int, float] = {}  # target id -> open_until
        self.cool: dict[int, float] = {}  # target id -> end of a 429 cooldown

    def _state(self, target_id: int) -> TargetState:
        state = self.states.get(target_id)
        if state is None:
            state = self.states[target_id] = TargetState()
        return state

    def apply(self, target_id: int, batch: Batch, settings, now: float) -> float:
        open_until = apply_batch(self._state(target_id), batch, settings, now)
        if open_until:
            self.open[target_id] = open_until
        return open_until

    def claim(self, target_id: int, now: float, ttl: float) -> int:
        result = claim_probe(self._state(target_id), now, ttl)
        if result == CLAIM_CLOSED:
            self.open.pop(target_id, None)
        return result

    def probe_done(self, target_id: int, ok: bool, settings, now: float) -> float:
        open_until = probe_result(self._state(target_id), ok, settings, now)
        if open_until:
            self.open[target_id] = open_until
        else:
            self.open.pop(target_id, None)
        return open_until

    def release(self, target_id: int) -> None:
        self._state(target_id).probe_until = 0.0

    def cool_down(self, target_id: int, until: float) -> None:
        self.cool[target_id] = max(until, self.cool.get(target_id, 0.0))
