"""Per-process load signals: in-flight attempts, latency EWMA, round-robin positions.

These are hints for choosing among healthy targets, not state: each process
measures its own traffic, and losing them on a restart only costs a few
less-than-ideal picks. That is why they stay in memory while the breaker board
(which decides whether a target gets traffic at all) is shared through Redis.
"""
from __future__ import annotations

# Weight of the newest latency sample: ~5 samples dominate the average, so a target that
# slows down is noticed within a handful of requests, and one slow answer does not condemn it.
EWMA_ALPHA = 0.3


class LoadSignals:
    __slots__ = ("inflight", "latency", "rr")

    def __init__(self):
        self.inflight: dict[int, int] = {}  # target id -> attempts running in this process
        self.latency: dict[int, float] = {}  # target id -> EWMA of time to first byte (s)
        self.rr: dict[int, int] = {}  # route id -> next position in its round-robin cycle

    def started(self, target_id: int) -> None:
        self.inflight[target_id] = self.inflight.get(target_id, 0) + 1

    def finished(self, target_id: int) -> None:
        left = self.inflight.get(target_id, 1) - 1
        if left > 0:
            self.inflight[target_id] = left
        else:
            self.inflight.pop(target_id, None)

    def observe(self, target_id: int, seconds: float) -> None:
        before = self.latency.get(target_id)
        self.latency[target_id] = seconds if before is None else before + EWMA_ALPHA * (seconds - before)

    def next_position(self, route_id: int) -> int:
        position = self.rr.get(route_id, 0)
        self.rr[route_id] = position + 1
        return position
