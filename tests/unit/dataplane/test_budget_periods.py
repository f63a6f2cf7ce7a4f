"""Budget periods: calendar boundaries in the tenant's time zone, and the counter key they give."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.dataplane.budgets import money
from gateway.dataplane.budgets.periods import window
from gateway.dataplane.budgets.plan import BudgetInfo, counter


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(epoch: float, zone: str = "UTC") -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(epoch, ZoneInfo(zone)).isoformat()


def test_it_resets_a_tokyo_month_at_tokyo_midnight_not_utcs():
    before, after = ts("2025-03-31T14:59:59"), ts("2025-03-31T15:00:00")  # 15:00 UTC is 00:00 JST
    assert window("monthly", "Asia/Tokyo", before).label == "m202503"
    tokyo = window("monthly", "Asia/Tokyo", after)
    assert tokyo.label == "m202504"
    assert iso(tokyo.start, "Asia/Tokyo") == "2025-04-01T00:00:00+09:00"
    assert iso(tokyo.end, "Asia/Tokyo") == "2025-05-01T00:00:00+09:00"
    assert window("monthly", "UTC", after).label == "m202503"  # a UTC tenant is still in March


def test_it_resets_a_day_at_the_tenants_midnight():
    assert window("daily", "Asia/Tokyo", ts("2025-06-10T14:59:59")).label == "d20250610"
    assert window("daily", "Asia/Tokyo", ts("2025-06-10T15:00:00")).label == "d20250611"
    assert window("daily", "UTC", ts("2025-06-10T15:00:00")).label == "d20250610"
    # Half-hour zones too: Kolkata's midnight is 18:30 UTC.
    assert window("daily", "Asia/Kolkata", ts("2025-06-10T18:29:59")).label == "d20250610"
    assert window("daily", "Asia/Kolkata", ts("2025-06-10T18:30:00")).label == "d20250611"


def test_it_starts_weeks_on_monday():
    sunday_night = window("weekly", "UTC", ts("2025-03-30T23:59:59"))
    monday = window("weekly", "UTC", ts("2025-03-31T00:00:00"))
    assert sunday_night.label == "w20250324" and monday.label == "w20250331"
    assert iso(monday.start) == "2025-03-31T00:00:00+00:00" and iso(monday.end) == "2025-04-07T00:00:00+00:00"
    # In Tokyo, Monday has already begun at Sunday 15:00 UTC.
    assert window("weekly", "Asia/Tokyo", ts("2025-03-30T15:00:00")).label == "w20250331"


def test_it_makes_a_day_across_a_dst_change_23_or_25_hours_long():
    spring = window("daily", "America/New_York", ts("2025-03-09T12:00:00"))
    autumn = window("daily", "America/New_York", ts("2025-11-02T12:00:00"))
    assert spring.end - spring.start == 23 * 3600
    assert autumn.end - autumn.start == 25 * 3600


def test_it_rolls_december_into_january():
    december = window("monthly", "UTC", ts("2025-12-31T23:59:59"))
    assert december.label == "m202512" and iso(december.end) == "2026-01-01T00:00:00+00:00"
    assert window("monthly", "UTC", ts("2026-01-01T00:00:00")).label == "m202601"


def test_it_never_resets_a_total_budget():
    created = ts("2024-01-01T00:00:00")
    span = window("total", "Asia/Tokyo", ts("2030-01-01T00:00:00"), created)
    assert (span.label, span.start, span.end) == ("total", created, None)


def test_it_rejects_an_unknown_period():
    with pytest.raises(ValueError):
        window("hourly", "UTC", ts("2025-01-01T00:00:00"))


def budget(period="monthly", zone="Asia/Tokyo", **fields) -> BudgetInfo:
    values = dict(id=7, tenant_id=3, scope="team", subject_id=5, name="ml", route_id=None, route_name="",
                  amount_micro=100_000_000, period=period, action="block", downgrade_route_id=None,
                  time_zone=zone, created=0.0)
    return BudgetInfo(**(values | fields))


def test_it_keys_each_period_to_a_new_counter_so_a_reset_cannot_race():
    before = counter(budget(), ts("2025-03-31T14:59:59"))
    after = counter(budget(), ts("2025-03-31T15:00:00"))
    assert before.key == "sy:bud:{t3}:7:m202503" and after.key == "sy:bud:{t3}:7:m202504"
    assert after.reservations == after.key + ":res"
    # The finished period's counter outlives its period by the grace, then expires; total never.
    assert after.expire_at > ts("2025-04-30T15:00:00")
    assert counter(budget(period="total"), ts("2025-03-31T15:00:00")).expire_at == 0


def test_it_names_the_budget_its_limit_and_route_in_words():
    assert budget().describe() == "team 'ml' monthly budget of $100.00"
    assert budget(scope="key", name="app", route_id=2, route_name="gpt", amount_micro=420_000,
                  period="daily").describe() == "key 'app' daily budget of $0.42 for route 'gpt'"


def test_it_keeps_money_exact_in_integers():
    assert money.to_pico(Decimal("0.0000000000005")) == 1  # half away from zero, as PostgreSQL rounds
    assert money.to_pico(Decimal("0.0000000000004999")) == 0
    assert money.to_pico(Decimal("1.234567890123")) == 1_234_567_890_123
    assert money.ceil_micro(Decimal("0.0000010000001")) == 2  # an estimate rounds up, never down
    assert money.split(-1) == (-1, 999_999)  # a negative drift keeps a positive rest
    assert money.join(*money.split(123_456_789_012)) == 123_456_789_012
    assert [money.usd_text(m) for m in (100_000_000, 420_000, 4_939, 0)] == ["$100.00", "$0.42", "$0.004939", "$0.00"]
