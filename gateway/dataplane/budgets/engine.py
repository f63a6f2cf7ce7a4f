"""Reserve a call's worst-case cost on every budget it counts against; settle to the actual cost.

One reserve round trip before the call (two when a downgrade budget switches
the route) and one settle round trip after it. Counters unreachable: hard
(block) budgets fail closed with 503, others fail open (RELIABILITY.md B6),
logged once per outage at ERROR.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from gateway.dataplane.budgets import money
from gateway.dataplane.budgets.local import local_counters
from gateway.dataplane.budgets.periods import minute_of
from gateway.dataplane.budgets.plan import BLOCK, BudgetInfo, Counter, applicable, counter, mode_of, worst_case_micro
from gateway.dataplane.budgets.store import ADMITTED, CHARGE, DOWNGRADED, RELEASE, RedisCounters, Verdict
from gateway.dataplane.errors import GatewayError
from gateway.dataplane.ids import uuid4_hex
from gateway.dataplane.runtime import get_runtime

# The route step's clamp, so a downgraded call obeys its new route's cap exactly as a direct one would.
from gateway.dataplane.steps.route import _clamp_max_tokens

log = logging.getLogger("switchyard.dataplane.budgets")
# A reservation lapses after this long, so a crashed or hung process cannot hold money for ever.
# Longer than a call can take: 60 s to the first byte, then a stream may run for minutes.
RESERVATION_TTL_S = 900
UNAVAILABLE_RETRY_S = 1  # the counters' outage is usually brief; a client may retry soon


@dataclass(slots=True)
class Hold:
    """What a reservation holds until the call settles."""

    member: str  # the reservation's id in each counter
    cost_micro: int
    counters: tuple[Counter, ...]
    settled: bool = field(default=False)


def unavailable() -> GatewayError:
    return GatewayError(503, "budget_unavailable",
                        "Budget counters are unreachable; calls under a hard budget are refused until they recover.",
                        retry_after=UNAVAILABLE_RETRY_S)


def exhausted(budget: BudgetInfo, left_micro: int, cost_micro: int) -> GatewayError:
    return GatewayError(402, "budget_exceeded",
                        f"{budget.describe()} exhausted: {money.usd_text(left_micro)} left, "
                        f"this call may cost up to {money.usd_text(cost_micro)}.")


class BudgetEngine:
    def __init__(self, store, client=None):
        self.store = store  # RedisCounters or LocalCounters
        self.client = client  # the Redis client behind the store, None in embedded mode
        self._down = False
        self._tasks: set[asyncio.Task] = set()  # settles in flight, referenced until done

    async def admit(self, ctx, budgets: list[BudgetInfo]) -> Hold | None:
        """Reserve, or raise 402/503; a downgrade budget that is full switches ctx.route first."""
        verdict, hold = await self._reserve(ctx, budgets, may_downgrade=True)
        if verdict.outcome == DOWNGRADED:
            switch_route(ctx, budgets[verdict.index])
            budgets = applicable(ctx.snapshot, ctx.key, ctx.route.id)
            if not budgets:  # the cheaper route is under no budget of this key
                return None
            verdict, hold = await self._reserve(ctx, budgets, may_downgrade=False)
        if verdict.outcome != ADMITTED:
            raise exhausted(budgets[verdict.index], verdict.left_micro, hold.cost_micro)
        return hold

    async def _reserve(self, ctx, budgets, may_downgrade) -> tuple[Verdict, Hold | None]:
        cost = worst_case_micro(ctx, ctx.route)
        counters = tuple(counter(b, ctx.started_wall, mode_of(b, may_downgrade)) for b in budgets)
        hold = Hold(uuid4_hex() + f":{cost}", cost, counters)
        try:
            verdict = await self.store.reserve(list(counters), hold.member, RESERVATION_TTL_S, cost)
        except self.store.errors as exc:
            self._outage(exc)
            if any(b.action == BLOCK for b in budgets):
                raise unavailable() from None
            return Verdict(ADMITTED), None  # soft budgets only: admitted uncounted, the ledger still has it
        self._recovered()
        return verdict, hold

    async def settle(self, ctx, hold: Hold | None, actual_pico: int) -> None:
        """Release the reservation and charge the actual cost; finishes even if the request is cancelled."""
        if hold is None or hold.settled:
            return
        hold.settled = True
        task = asyncio.ensure_future(self._settle(ctx, hold, actual_pico))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.shield(task)

    async def _settle(self, ctx, hold: Hold, actual_pico: int) -> None:
        # Charge the budgets of the route that finally answered (a fallback may have changed it),
        # exactly as the ledger row will attribute the call.
        charged = {c.key: c for c in (counter(b, ctx.started_wall)
                                      for b in applicable(ctx.snapshot, ctx.key, ctx.route.id))}
        items = [(c, RELEASE | (CHARGE if c.key in charged else 0)) for c in hold.counters]
        reserved = {c.key for c in hold.counters}
        items += [(c, CHARGE) for key, c in charged.items() if key not in reserved]
        try:
            await self.store.settle(items, hold.member, hold.cost_micro, actual_pico, minute_of(ctx.started_wall))
        except self.store.errors as exc:
            self._outage(exc)  # the reservation lapses on its TTL; the reconcile job restores the spend
        else:
            self._recovered()

    def _outage(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.error("budget counters unreachable (%s): block budgets answer 503 budget_unavailable, "
                      "alert and downgrade budgets fail open until they recover", type(exc).__name__)

    def _recovered(self) -> None:
        if self._down:
            self._down = False
            # ERROR like the outage itself: every mode switch is logged at one level (RELIABILITY.md B6).
            log.error("budget counters reachable again: budgets enforced")


def switch_route(ctx, budget: BudgetInfo) -> None:
    """Send the call to the budget's cheaper route, within that route's own max_tokens cap."""
    route = ctx.snapshot.routes_by_id.get(budget.downgrade_route_id)
    if route is None:  # the downgrade route was deleted or disabled: a full budget must still hold
        raise GatewayError(402, "budget_exceeded",
                           f"{budget.describe()} exhausted, and its downgrade route is unavailable.")
    ctx.route = route
    if route.max_tokens_cap is not None and ctx.endpoint != "embeddings":
        ctx.body_modified = _clamp_max_tokens(ctx.canonical, route.max_tokens_cap) or ctx.body_modified
        if ctx.body is not None:
            _clamp_max_tokens(ctx.body, route.max_tokens_cap)
    ctx.response_headers.append((b"x-switchyard-budget", b"downgraded"))


_engine: BudgetEngine | None = None  # per process, following the runtime's Redis client (or its absence)


def process_engine() -> BudgetEngine:
    global _engine
    client = get_runtime().wire  # pipelined, no pool to wait for: see store.py
    if _engine is None or _engine.client is not client:
        store = RedisCounters(client) if client is not None else local_counters()
        _engine = BudgetEngine(store, client)
    return _engine
