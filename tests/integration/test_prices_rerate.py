"""Re-rating a period after a price correction: exact adjustments beside an untouched ledger (issue 5, item 1)."""
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from analytics.models import Granularity, Grouping, UsageRollup
from analytics.rollups import rollup_period
from billing.alerts.spend import budget_spent, daily_spend_by_key
from billing.models import Budget, RatingAdjustment, RerateRun, UsageRecord
from billing.prices.services import price_override_save
from billing.rerate import rerate
from gateway.dataplane.canonical import Usage
from tests.conftest import client_for
from tests.integration.test_prices import DAY, M, at, call, make_chat, make_openai, override, snapshot_at

NOV = {"start": DAY.replace(day=1), "end": DAY.replace(month=12, day=1)}
USAGE = Usage(input_tokens=1000, output_tokens=100, cached_tokens=400)


def command(*args):
    out = io.StringIO()
    call_command("rerate", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def openai(db):
    return make_openai()


@pytest.fixture
def priced_month(openai, tenant_a, tenant_b):
    """Calls at 10:00 (tenant a), 13:00 (tenant a) and 14:00 (tenant b), priced live at 1 / 0.5 / 2 per Mtok."""
    chat = make_chat(openai)
    price = override(openai, at(0), input="1", output="2", cached_input_per_mtok="0.5")
    snapshot = snapshot_at(at(9))
    rows = [call(snapshot, tenant, chat, when, USAGE) for tenant, when in
            ((tenant_a, at(10)), (tenant_a, at(13)), (tenant_b, at(14)))]
    return price, rows


def live_cost(input_, cached, output):
    return (600 * Decimal(input_) + 400 * Decimal(cached) + 100 * Decimal(output)) / M


def ledger():
    return list(UsageRecord.objects.order_by("created_at").values_list("event_id", "cost_usd", "price_version"))


@pytest.mark.django_db
def test_it_records_exact_adjustments_after_a_correction_and_leaves_the_ledger_alone(openai, priced_month):
    price, rows = priced_month
    assert all(r.cost_usd == live_cost(1, "0.5", 2) == Decimal("0.0010") for r in rows)
    before = ledger()
    # The negotiated input price was 0.9, not 1; and from 12:00 a new price applies.
    price.input_per_mtok, price.valid_to = Decimal("0.9"), at(12)
    price_override_save(price)
    noon = override(openai, at(12), input="3", output="4")  # cache reads at the input price: 3

    result = rerate(**NOV)

    assert ledger() == before
    adjustments = {a.event_id: a for a in RatingAdjustment.objects.all()}
    morning, afternoon, other = (adjustments[r.event_id] for r in rows)
    assert (morning.old_cost_usd, morning.new_cost_usd, morning.delta_usd) == (
        Decimal("0.001"), Decimal("0.00094"), Decimal("-0.00006"))
    assert morning.price_version == price.version and afternoon.price_version == noon.version
    assert afternoon.new_cost_usd == other.new_cost_usd == live_cost(3, 3, 4) == Decimal("0.0034")
    assert (result.rows_scanned, result.rows_adjusted, result.rows_skipped) == (3, 3, 0)
    assert result.old_total == Decimal("0.003") and result.new_total == Decimal("0.00774")
    run = RerateRun.objects.get(pk=result.run_id)
    assert run.delta_usd == Decimal("0.00474") and morning.run_id == run.pk


@pytest.mark.django_db
def test_it_adds_nothing_when_run_again_with_unchanged_prices(openai, priced_month):
    price, rows = priced_month
    assert rerate(**NOV).rows_adjusted == 0  # the live prices were already right
    price.output_per_mtok = Decimal("2.2")
    price_override_save(price)
    assert rerate(**NOV).rows_adjusted == 3
    again = rerate(**NOV)
    assert again.rows_adjusted == 0 and again.delta == 0
    assert RatingAdjustment.objects.count() == 3
    # A second correction adjusts from the effective cost (ledger + earlier deltas), not the ledger's.
    price.output_per_mtok = Decimal("2")
    price_override_save(price)
    assert rerate(**NOV).rows_adjusted == 3
    effective = {r.event_id: r.cost_usd for r in rows}
    for adjustment in RatingAdjustment.objects.all():
        effective[adjustment.event_id] += adjustment.delta_usd
    assert set(effective.values()) == {live_cost(1, "0.5", 2)}


@pytest.mark.django_db
def test_it_writes_nothing_on_a_dry_run_and_rerates_one_tenant(openai, priced_month, tenant_b):
    price, _rows = priced_month
    price.input_per_mtok = Decimal("1.1")
    price_override_save(price)

    out = command("--from", "2026-11-01", "--to", "2026-11-30", "--dry-run")
    assert "3 rows, 3 adjusted, 0 skipped" in out and "difference +0.000180000000 USD" in out
    assert "dry run: nothing written" in out
    assert not RatingAdjustment.objects.exists() and not RerateRun.objects.exists()

    out = command("--from", "2026-11-10", "--to", "2026-11-10", "--tenant", tenant_b.slug)
    assert "1 rows, 1 adjusted" in out
    assert RatingAdjustment.objects.get().tenant_id == tenant_b.pk
    assert "0 rows" in command("--from", "2026-11-11", "--to", "2026-11-30")


@pytest.mark.django_db
def test_it_skips_cache_hits_and_rejects_bad_arguments(openai, priced_month):
    price, rows = priced_month
    UsageRecord.objects.filter(pk=rows[0].pk).update(cache_status="hit")
    price.input_per_mtok = Decimal("5")
    price_override_save(price)
    result = rerate(**NOV)
    assert (result.rows_adjusted, result.rows_skipped) == (2, 1)
    with pytest.raises(CommandError, match="no tenant"):
        command("--from", "2026-11-01", "--to", "2026-11-30", "--tenant", "nobody")
    with pytest.raises(CommandError, match="before"):
        command("--from", "2026-11-30", "--to", "2026-11-01")


@pytest.mark.django_db
def test_its_adjustments_reach_the_rollups_and_the_cost_report(openai, priced_month, tenant_a, admin_a):
    """Reports read rollups: rebuilt after a re-rating, they carry each call's effective cost."""
    price, _rows = priced_month
    price.input_per_mtok = Decimal("0.9")  # the negotiated price, applied afterwards
    price_override_save(price)
    rollup_period(DAY.date(), DAY.date())
    assert day_cost(tenant_a) == Decimal("0.002")  # ledger cost: 2 calls at 0.001
    rerate(**NOV)
    rollup_period(DAY.date(), DAY.date())
    assert day_cost(tenant_a) == 2 * live_cost("0.9", "0.5", 2) == Decimal("0.00188")
    response = client_for(admin_a).get(reverse("report-cost"), {"dimension": "model", "from": "2026-11-01",
                                                               "to": "2026-11-30"})
    assert response.status_code == 200, response.content
    assert Decimal(response.json()["totals"]["cost_usd"]) == Decimal("0.00188")
    rerate(**NOV)  # unchanged prices: nothing more, the same figures
    rollup_period(DAY.date(), DAY.date())
    assert day_cost(tenant_a) == Decimal("0.00188")


def day_cost(tenant):
    row = UsageRollup.objects.get(tenant_id=tenant.pk, granularity=Granularity.DAY, grouping=Grouping.TENANT)
    return row.cost_usd


@pytest.mark.django_db
def test_budget_alerts_and_anomalies_count_the_re_rated_cost(openai, priced_month, tenant_a):
    price, _rows = priced_month
    price.input_per_mtok = Decimal("0.9")
    price_override_save(price)
    budget = Budget.objects.create(tenant=tenant_a, scope="tenant", amount_usd="1", period="monthly")
    midnight, evening = at(0), at(23)

    def spent():
        today = sum(t for t, _trailing in daily_spend_by_key(tenant_a.pk, NOV["start"], midnight, evening).values())
        return budget_spent(budget, NOV["start"], NOV["end"], evening), today

    assert spent() == (Decimal("0.002"), Decimal("0.002"))
    rerate(**NOV)
    assert spent() == (Decimal("0.00188"), Decimal("0.00188"))


@pytest.mark.django_db
def test_the_command_rebuilds_the_rollups_of_the_days_it_re_rated(openai, priced_month, tenant_a):
    price, _rows = priced_month
    rollup_period(DAY.date(), DAY.date())
    price.input_per_mtok = Decimal("0.9")
    price_override_save(price)
    out = command("--from", "2026-11-10", "--to", "2026-11-10", "--no-rollups")
    assert "rollups rebuilt" not in out and day_cost(tenant_a) == Decimal("0.002")
    price.input_per_mtok = Decimal("0.8")
    price_override_save(price)
    out = command("--from", "2026-11-10", "--to", "2026-11-10")
    assert "rollups rebuilt for 2026-11-09..2026-11-11" in out
    assert day_cost(tenant_a) == 2 * live_cost("0.8", "0.5", 2) == Decimal("0.00176")
