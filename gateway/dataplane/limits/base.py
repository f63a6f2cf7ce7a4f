"""What both limiters share: outage handling (fail closed or open), settling off the request's fate."""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
from functools import partial

from gateway.dataplane.limits.rules import Rule
from gateway.dataplane.limits.verdict import Lease, Verdict, unavailable

log = logging.getLogger("switchyard.dataplane.limits")
WINDOW_MS = 60_000  # rpm and tpm count over the trailing minute
# A concurrency refusal cannot know when a slot frees; a second is a polite first retry.
PARALLEL_WAIT_MS = 1000


class _Members:
    """Names for acquisitions, unique across processes and replicas: a random prefix per process
    (drawn again in a forked child) and a counter; no system call per request."""

    def __init__(self) -> None:
        self.prefix = os.urandom(6).hex() + "."
        self.count = itertools.count()


_members = _Members()
os.register_at_fork(after_in_child=_members.__init__)


class Limiter:
    """Checks every rule of a request, then consumes from all of them or from none."""

    backend_errors: tuple[type[BaseException], ...] = ()  # what means "the counters are unreachable"

    def __init__(self) -> None:
        self._down = False

    async def acquire(self, rules: list[Rule], tokens: int) -> Verdict:
        """A verdict, or GatewayError 503 when the counters are unreachable and a rule fails closed."""
        member = f"{_members.prefix}{next(_members.count):x}"
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
        if lease is None or lease.settled:
            return
        replied = asyncio.get_running_loop().create_future()
        self.settle_soon(lease, used_tokens, partial(self._replied, replied))
        await replied

    def settle_soon(self, lease: Lease | None, used_tokens: int, on_reply=None):
        """Settle without waiting for the backend: the in-process one has done it when this
        returns, the Redis one has queued its script, which runs even if the request is cancelled
        right after. Returns what to await before the client may see the answer's end (the script
        leaving for Redis), or None. on_reply(reply, exc): when the backend answered."""
        if lease is None or lease.settled:
            return None
        lease.settled = True
        on_reply = on_reply or self._settled
        try:
            return self._settle(lease, used_tokens, on_reply)
        except self.backend_errors as exc:  # the slots expire on their TTL; the estimate stays counted
            on_reply(None, exc)
            return None

    def _replied(self, replied, reply, exc) -> None:
        self._settled(reply, exc)
        if not replied.done():  # else the request was cancelled while waiting
            replied.set_result(None)

    def _settled(self, _reply, exc) -> None:
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

    def _settle(self, lease: Lease, used_tokens: int, on_reply):
        """Settle, or queue the backend's work; on_reply(reply, exc) once it is done. Returns what
        to await for the work to have left (None: done already); never suspends."""
        raise NotImplementedError
