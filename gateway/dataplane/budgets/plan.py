"""Which budgets a request counts against, the counters they use, and a call's worst-case cost."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.dataplane.budgets import money
from gateway.dataplane.budgets.periods import window
from gateway.dataplane.pricing import price_for
from gateway.dataplane.tokens import prompt_tokens

BLOCK, ALERT, DOWNGRADE = "block", "alert", "downgrade"
# How the reserve script treats a budget: count only, refuse when full, or ask for a downgrade.
COUNT, REFUSE, DOWNGRADE_MODE = 0, 1, 2
# Output tokens reserved when neither the request nor its route bounds them. A call may then
# cost more than it reserved; the overspend is bounded by that one call (RELIABILITY.md B3).
DEFAULT_OUTPUT_RESERVE = 4096
# A finished period's counter stays readable this long (late settlements, reports), then expires.
COUNTER_GRACE_S = 7 * 24 * 3600
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BudgetInfo:
    id: int
    tenant_id: int
    scope: str  # tenant | team | key | user
    subject_id: int  # the tenant, team, key or user the budget belongs to
    name: str  # the subject as an error names it: tenant slug, team or key name, user name/e-mail
    route_id: int | None  # None: every route
    route_name: str
    amount_micro: int
    period: str
    action: str
    downgrade_route_id: int | None
    time_zone: str  # the tenant's: calendar periods reset at its midnight
    created: float  # epoch seconds: a total budget counts from here

    def describe(self) -> str:
        route = f" for route '{self.route_name}'" if self.route_id is not None else ""
        return f"{self.scope} '{self.name}' {self.period} budget of {money.usd_text(self.amount_micro)}{route}"


@dataclass(frozen=True, slots=True)
class Counter:
    """One budget's counter in one period, as the stores address it."""

    key: str  # hash: spend (u, p), reserved (r), per-minute spend buckets
    amount_micro: int
    mode: int
    expire_at: int  # epoch seconds; 0: never (total budgets)

    @property
    def reservations(self) -> str:
        return self.key + ":res"


def subject_index(scope: str, tenant_id: int, subject_id: int) -> tuple:
    """The snapshot's index of budgets; user budgets are per tenant, as memberships are."""
    return (scope, tenant_id, subject_id) if scope == "user" else (scope, subject_id)


def applicable(snapshot, key, route_id: int) -> list[BudgetInfo]:
    """Every budget of the hierarchy (key, user, team, tenant) that counts this call."""
    table = snapshot.budgets
    if not table:
        return []
    subjects = [("tenant", key.tenant_id), ("key", key.id)]
    if key.team_id is not None:
        subjects.append(("team", key.team_id))
    if key.user_id is not None:
        subjects.append(("user", key.tenant_id, key.user_id))
    return [b for s in subjects for b in table.get(s, ()) if b.route_id is None or b.route_id == route_id]


def counter(budget: BudgetInfo, at: float, mode: int = COUNT) -> Counter:
    span = window(budget.period, budget.time_zone, at, budget.created)
    expire_at = int(span.end) + COUNTER_GRACE_S if span.end is not None else 0
    # The {t<tenant>} hash tag keeps a request's counters in one Redis Cluster slot.
    return Counter(f"sy:bud:{{t{budget.tenant_id}}}:{budget.id}:{span.label}", budget.amount_micro, mode, expire_at)


def mode_of(budget: BudgetInfo, may_downgrade: bool) -> int:
    if budget.action == BLOCK:
        return REFUSE
    if budget.action == DOWNGRADE and may_downgrade:
        return DOWNGRADE_MODE
    return COUNT


def worst_case_micro(ctx, route) -> int:
    """Counted input tokens × the dearest input price + the output bound × the dearest output price.

    Dearest over the route's targets and its fallbacks' targets: the balancer
    or a fallback may pick any of them after the reservation is made.
    """
    price_in, price_out = _dearest(ctx, route)
    canonical = ctx.canonical or {}
    cost = prompt_tokens(ctx) * price_in if price_in else ZERO  # free input: no need to tokenize
    if ctx.endpoint != "embeddings":
        cost += output_bound(canonical, route) * price_out
    return money.ceil_micro(cost)


def output_bound(canonical: dict, route) -> int:
    """The request's max tokens (already clamped to the route's cap) times its choices."""
    asked = canonical.get("max_completion_tokens") or canonical.get("max_tokens")
    bound = asked or route.max_tokens_cap or DEFAULT_OUTPUT_RESERVE
    return bound * max(int(canonical.get("n") or 1), 1)


def _dearest(ctx, route) -> tuple[Decimal, Decimal]:
    snapshot = ctx.snapshot
    routes = [route, *(snapshot.routes_by_id[i] for i in route.fallback_ids if i in snapshot.routes_by_id)]
    prices = [price_for(snapshot.prices, ctx.key.tenant_id, r.id, t, ctx.started_wall)
              for r in routes for t in r.targets]
    prices = [p for p in prices if p is not None]
    # Anthropic bills cache writes above the input price: an input token may cost either.
    price_in = max((max(p.input, p.cache_write or ZERO) for p in prices), default=ZERO)
    return price_in, max((p.output for p in prices), default=ZERO)
