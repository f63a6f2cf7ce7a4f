"""Finance in a real browser: the costs page, and the cost CSV it links to, whose total equals the ledger."""
import csv
import io
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.rollups import rollup_period
from billing.models import UsageRecord
from gateway.models import Provider, Role, Route, Tenant
from gateway.services.routes import route_save
from tests.browser.conftest import sign_in
from tests.conftest import make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def ledger_rows(tenant, costs):
    provider = Provider.objects.create(name=f"mocky-{tenant.slug}", kind="mock", tenant=tenant)
    route = route_save(Route(name="priced", tenant=tenant), targets=[(provider, "mock-1", 1)])
    now = timezone.now()
    return [UsageRecord.objects.create(
        event_id=uuid.uuid4(), request_id=f"req-{tenant.slug}-{i}", created_at=now, tenant_id=tenant.pk,
        route_id=route.pk, route=route.name, provider_id=provider.pk, provider=provider.name, model="mock-1",
        ingress="openai", endpoint="chat", status=200, latency_ms=12.0, input_tokens=10, output_tokens=5,
        cost_usd=cost) for i, cost in enumerate(costs)]


def test_finance_downloads_a_cost_csv_whose_total_equals_the_ledger(page, gateway_server):
    tenant = Tenant.objects.create(slug="acme", name="Acme")
    other = Tenant.objects.create(slug="other", name="Other")
    make_member(tenant, "finance@acme.test", Role.FINANCE)
    ours = ledger_rows(tenant, ["0.000123456789", "1.5", "0.25"])
    ledger_rows(other, ["99"])  # another tenant's spend never shows up
    expected = sum(Decimal(str(r.cost_usd)) for r in ours)
    today = timezone.localdate()
    rollup_period(today.replace(day=1), today)  # what the periodic rollup job does every few minutes

    sign_in(page, gateway_server.url, "finance@acme.test", "pw-finance@acme.test")
    page.locator("#nav-costs").click()
    expect(page.locator("#cost-table")).to_contain_text("Acme")
    assert Decimal(page.locator("#cost-total").inner_text()) == expected
    with page.expect_download() as info:
        page.locator("#export-cost-csv").click()
    download = info.value
    assert download.failure() is None, download.failure()
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert rows, "the cost CSV has no rows"
    assert sum(Decimal(row["cost_usd"]) for row in rows) == expected
    page.js_errors.assert_clean()
