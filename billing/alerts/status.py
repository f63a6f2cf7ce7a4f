"""A budget's standing in its current period: spent, remaining, percent, forecast."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.alerts.forecast import Forecast, forecast_exhaustion, local_date
from billing.alerts.periods import period_bounds, tenant_zone
from billing.alerts.spend import budget_spent
from billing.models import Budget, BudgetSpendSnapshot

HUNDRED = Decimal(100)
CENTI = Decimal("0.01")


@dataclass(frozen=True)
class BudgetState:
    budget: Budget
    zone: ZoneInfo
    period_start: datetime
    period_end: datetime | None
    spent: Decimal
    as_of: datetime

    @property
    def amount(self) -> Decimal:
        return Decimal(self.budget.amount_usd)

    @property
    def percent(self) -> Decimal | None:
        # A zero budget has no meaningful percentage: it blocks, it does not alert.
        return None if self.amount <= 0 else (self.spent * HUNDRED / self.amount).quantize(CENTI)

    @property
    def remaining(self) -> Decimal:
        return max(self.amount - self.spent, Decimal(0))

    @property
    def forecast(self) -> Forecast:
        return forecast_exhaustion(self.spent, self.amount, self.period_start, self.period_end, self.as_of)

    def crossed_thresholds(self) -> list[int]:
        if self.amount <= 0:
            return []
        thresholds = sorted({int(t) for t in self.budget.alert_thresholds or []})
        # Exact, not the rounded percent: 49.996 % has not reached 50 %.
        return [t for t in thresholds if self.spent * HUNDRED >= self.amount * t]

    def forecast_date(self):
        return local_date(self.forecast.exhausted_at, self.zone)


def budget_state(budget: Budget, now: datetime, spent: Decimal | None = None) -> BudgetState:
    """The state at `now`; `spent` is summed from the ledger unless given."""
    zone = tenant_zone(budget.tenant.time_zone)
    start, end = period_bounds(budget.period, zone, now, budget.created_at)
    if spent is None:
        spent = budget_spent(budget, start, end, now)
    return BudgetState(budget, zone, start, end, Decimal(spent), now)


def snapshot_of(state: BudgetState) -> BudgetSpendSnapshot:
    return BudgetSpendSnapshot(
        budget=state.budget, period_start=state.period_start, period_end=state.period_end,
        spent_usd=state.spent, computed_at=state.as_of,
    )


def snapshots_save(snapshots: list[BudgetSpendSnapshot]) -> None:
    BudgetSpendSnapshot.objects.bulk_create(
        snapshots, update_conflicts=True, unique_fields=["budget"],
        update_fields=["period_start", "period_end", "spent_usd", "computed_at"],
    )


def budget_state_from_snapshot(budget: Budget, now: datetime) -> BudgetState:
    """The last evaluated state of the current period.

    The API reads this rather than summing the ledger on a request path; it is
    at most one evaluation interval old and `as_of` says exactly how old. Before
    the period's first evaluation the only certain fact is "0 spent at its start".
    """
    zone = tenant_zone(budget.tenant.time_zone)
    start, end = period_bounds(budget.period, zone, now, budget.created_at)
    snapshot = BudgetSpendSnapshot.objects.filter(budget=budget, period_start=start).first()
    if snapshot is None:
        return BudgetState(budget, zone, start, end, Decimal(0), start)
    return BudgetState(budget, zone, start, end, snapshot.spent_usd, snapshot.computed_at)
