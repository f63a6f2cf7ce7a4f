"""The retry budget: retries in flight stay under a share of the requests in flight.

Envoy's retry budget (budget_percent 20 %, min_retry_concurrency 3, RELIABILITY.md B5):
when an upstream fails for everyone, most requests fail once instead of three
times, so an outage never turns into a retry storm against it. Per process,
like the requests it counts; a fleet's retries stay under 20 % all the same.
"""
from __future__ import annotations

RATIO = 0.2  # retries in flight per request in flight
MIN_CONCURRENT = 3  # always allowed, so a quiet process still retries its occasional failure


class RetryBudget:
    __slots__ = ("active", "retrying", "ratio", "minimum", "refused")

    def __init__(self, ratio: float = RATIO, minimum: int = MIN_CONCURRENT):
        self.active = 0  # requests in the call step
        self.retrying = 0  # retries between their decision and the end of their attempt
        self.ratio = ratio
        self.minimum = minimum
        self.refused = 0  # retries the budget said no to (a figure for logs and tests)

    def enter(self) -> None:
        self.active += 1

    def leave(self) -> None:
        self.active -= 1

    def try_acquire(self) -> bool:
        if self.retrying < max(self.minimum, self.active * self.ratio):
            self.retrying += 1
            return True
        self.refused += 1
        return False

    def release(self) -> None:
        self.retrying -= 1
