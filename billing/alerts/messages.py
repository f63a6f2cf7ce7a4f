"""The words and the JSON of an alert, frozen into the AlertEvent when it is decided."""
from __future__ import annotations

from decimal import Decimal

from billing.alerts.status import BudgetState

CENTI = Decimal("0.01")
MICRO = Decimal("0.000001")  # the ledger keeps 12 places; a millionth of a dollar is plenty to show


def usd(value) -> str:
    return f"{Decimal(value).quantize(CENTI)} USD"


def threshold_payload(state: BudgetState, threshold: int) -> dict:
    budget = state.budget
    forecast = state.forecast_date()
    return {
        "budget": {
            "id": budget.pk, "label": str(budget.subject_label), "scope": budget.scope, "period": budget.period,
            "route_id": budget.route_id, "amount_usd": str(budget.amount_usd),
        },
        "threshold": threshold,
        "percent": str(state.percent),
        "spent_usd": str(state.spent.quantize(MICRO)),
        "remaining_usd": str(state.remaining.quantize(MICRO)),
        # In the tenant's time zone (still exact instants): its midnights read as midnights.
        "period_start": state.period_start.astimezone(state.zone).isoformat(),
        "period_end": state.period_end.astimezone(state.zone).isoformat() if state.period_end else None,
        "forecast_exhaustion_date": forecast.isoformat() if forecast else None,
        "burn_per_day_usd": str(state.forecast.burn_per_day_usd),
    }


def threshold_text(tenant_slug: str, payload: dict) -> str:
    budget = payload["budget"]
    head = (
        f"{tenant_slug}: the {budget['period']} {budget['scope']} budget \"{budget['label']}\" "
        f"({usd(budget['amount_usd'])}) reached {payload['threshold']} %: {usd(payload['spent_usd'])} spent, "
        f"{usd(payload['remaining_usd'])} left."
    )
    forecast = payload["forecast_exhaustion_date"]
    if Decimal(payload["remaining_usd"]) <= 0:
        return head + " The budget is exhausted."
    if forecast:
        return head + f" At the current rate it runs out on {forecast}."
    return head + " At the current rate it lasts the period."


def anomaly_payload(subject: str, day, today: Decimal, mean: Decimal, rule, key_name=None) -> dict:
    return {
        "subject": subject,
        "key_name": key_name,
        "day": day.isoformat(),
        "spent_usd": str(today.quantize(MICRO)),
        "trailing_mean_usd": str(mean.quantize(MICRO)),
        "ratio": str((today / mean).quantize(Decimal("0.1"))) if mean > 0 else None,
        "multiplier": str(rule.anomaly_multiplier),
        "min_usd": str(rule.anomaly_min_usd),
        "window_days": rule.anomaly_window_days,
    }


def anomaly_text(tenant_slug: str, payload: dict) -> str:
    who = f"key \"{payload['key_name']}\"" if payload["key_name"] else "the tenant"
    if payload["ratio"]:
        average = usd(payload["trailing_mean_usd"])
        compared = f"{payload['ratio']}x its {payload['window_days']}-day average of {average}"
    else:
        compared = f"with no spend in the previous {payload['window_days']} days"
    return f"{tenant_slug}: unusual spend: {who} spent {usd(payload['spent_usd'])} on {payload['day']}, {compared}."
