"""What both limiters share: outage handling (fail closed or open), settling off the request's fate."""
from __future__ import annotations

import contextlib
import logging
import os

from gateway.dataplane.limits.rules import Rule
from gateway.dataplane.limits.verdict import Lease, Verdict, unavailable

log = logging.getLogger("switchyard.dataplane.limits")
WINDOW_MS = 60_000  # rpm and tpm count over the trailing minute
# A concurrency refusal cannot know when a slot frees; a second is a polite first retry.
PARALLEL_WAIT_MS = 1000


class Limiter:
    """Checks every rule of a request, then consumes from all of them or from none."""

    backend_errors: tuple[type[BaseException], ...] = ()  # what means "the counters are unreachable"

    def __init__(self) -> None:
        self._down = False

    async def acquire(self, rules: list[Rule], tokens: int) -> Verdict:
        """A verdict, or GatewayError 503 when the counters are unreachable and a rule fails closed."""
        member = os.urandom(8).hex()
        try:
            raw, at, handle = await self._acquire(member, rules, tokens)
        except self.backend_errors as exc:
            self._outage(exc)
            if all(rule.fail_open for rule in rules):
                return Verdict(rules, tokens=tokens)  # admitted unchecked: nothing held, nothing to settle
            raise unavailable() from None
        self._recovered()
        verdict = Verdict(rules, raw, tokens=tokens)
        settling = tuple(rule for rule in rules if rule.settles)
        if verdict.admitted and settling:
            verdict.lease = Lease(member, settling, tokens, at, handle)
        return verdict

    async def settle(self, lease: Lease | None, used_tokens: int) -> None:
        """Reconcile the tokens and free the slots (once; later calls do nothing); waits for the
        backend's reply."""
        pending = self.settle_soon(lease, used_tokens)
        if pending is not None:
            with contextlib.suppress(*self.backend_errors):  # noted by _settled
                await pending

    def settle_soon(self, lease: Lease | None, used_tokens: int):
        """Settle without waiting: the work has left before this returns (the in-process backend
        has done it; the Redis one has written its script to the socket), so it happens even if
        the request is cancelled right after. Returns the backend's pending reply, or None."""
        if lease is None or lease.settled:
            return None
        lease.settled = True
        try:
            pending = self._settle(lease, used_tokens)
        except self.backend_errors as exc:
            self._outage(exc)  # the slots expire on their TTL; the estimate stays counted
            return None
        if pending is None:
            self._recovered()
            return None
        pending.add_done_callback(self._settled)
        return pending

    def _settled(self, reply) -> None:
        if reply.cancelled():
            return
        exc = reply.exception()
        if exc is None:
            self._recovered()
        elif isinstance(exc, self.backend_errors):
            self._outage(exc)

    def _outage(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            # The type only: a Redis error's text can carry the URL and its password.
            log.error("rate limits unavailable (%s): failing closed except for limits with fail_open",
                      type(exc).__name__)

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            log.warning("rate limits available again")

    async def _acquire(self, member: str, rules: list[Rule], tokens: int):
        """(raw verdict figures, lease time in ms, backend handle)."""
        raise NotImplementedError

    def _settle(self, lease: Lease, used_tokens: int):
        """Settle, or send the backend its work and return the reply's future; never suspends."""
        raise NotImplementedError
