"""Finance reports and exports against the raw ledger (they read rollups; the ledger is the truth)."""
import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from openapi_spec_validator import validate
from pypdf import PdfReader

from analytics.rollups import rollup_period
from billing.reports.focus import COLUMNS as FOCUS_COLUMNS
from billing.reports.params import Query
from billing.reports.queries import forecast
from gateway.models import Role, Team
from tests.conftest import client_for, make_member
from tests.integration.test_rollups import generate_usage, make_world

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


@pytest.fixture
def finance_a(tenant_a):
    return make_member(tenant_a, "finance@a.test", Role.FINANCE)


@pytest.fixture
def ledger(tenant_a, tenant_b):
    """February and March 2025 for two tenants (one in New York), rolled up."""
    keys = make_world(tenant_a) + make_world(tenant_b, "America/New_York")
    records = generate_usage(keys, datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 3, 29, tzinfo=UTC), 5000)
    rollup_period(date(2025, 2, 1), date(2025, 3, 31))
    return records


def in_march(records, tenant):
    return [r for r in records if r.tenant_id == tenant.pk and r.created_at >= datetime(2025, 3, 1, tzinfo=UTC)]


def by(records, attribute):
    sums = defaultdict(Decimal)
    for record in records:
        sums[getattr(record, attribute)] += record.cost_usd
    return dict(sums)


def parse_csv(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
@pytest.mark.parametrize("dimension,attribute", [
    ("team", "team_id"), ("key", "key_id"), ("user", "user_id"), ("route", "route"), ("provider", "provider"),
    ("model", "model"),
])
def test_it_reports_cost_by_each_dimension_equal_to_the_ledger(ledger, tenant_a, admin_a, dimension, attribute):
    response = client_for(admin_a).get(reverse("report-cost"), {"dimension": dimension, **MARCH})
    assert response.status_code == 200, response.content
    body, expected = response.json(), by(in_march(ledger, tenant_a), attribute)
    assert {row["value"]: Decimal(row["cost_usd"]) for row in body["rows"]} == expected
    assert Decimal(body["totals"]["cost_usd"]) == sum(expected.values())
    assert {row["period"] for row in body["rows"]} == {"2025-03"}


@pytest.mark.django_db
def test_it_drills_down_by_filters_on_other_dimensions(ledger, tenant_a, finance_a):
    team = Team.objects.get(tenant=tenant_a, name="research")
    params = {"dimension": "model", "period": "day", "team": team.pk, "route": "chat", **MARCH}
    rows = client_for(finance_a).get(reverse("report-cost"), params).json()["rows"]
    chosen = [r for r in in_march(ledger, tenant_a) if r.team_id == team.pk and r.route == "chat"]
    assert sum(Decimal(row["cost_usd"]) for row in rows) == sum(r.cost_usd for r in chosen)
    assert {row["value"] for row in rows} == {"gpt-4o", "claude-sonnet"}
    assert all(row["latency_p50_ms"] is None for row in rows)  # percentiles of a cross-filter cannot be summed
    no_team = client_for(finance_a).get(reverse("report-cost"), {"dimension": "key", "team": "none", **MARCH})
    assert [row["label"] for row in no_team.json()["rows"]] == ["key-2"]


@pytest.mark.django_db
def test_it_reports_daily_percentiles_of_single_dimension_rows(ledger, finance_a):
    rows = client_for(finance_a).get(reverse("report-cost"), {"dimension": "model", "period": "day", **MARCH}).json()
    assert rows["rows"] and all(row["latency_p95_ms"] is not None for row in rows["rows"] if row["value"])


@pytest.mark.django_db
def test_it_exports_a_cost_csv_whose_totals_equal_the_ledger(ledger, tenant_a, tenant_b, finance_a):
    make_member(tenant_b, "finance@a.test".replace("@", "+b@"), Role.FINANCE)
    params = {"dimension": "key", "period": "day", "from": "2025-02-01", "to": "2025-03-31"}
    rows = parse_csv(client_for(finance_a).get(reverse("report-cost-csv"), params))
    total = sum(Decimal(row["cost_usd"]) for row in rows)
    assert total == sum(r.cost_usd for r in ledger if r.tenant_id == tenant_a.pk)
    assert abs(total - sum(r.cost_usd for r in ledger if r.tenant_id == tenant_a.pk)) < Decimal("1e-12")
    assert set(rows[0]) >= {"period", "tenant", "key", "label", "requests", "cost_usd", "latency_p95_ms"}


@pytest.mark.django_db
def test_it_exports_the_focus_columns_with_totals_equal_to_the_ledger(ledger, tenant_b):
    finance_b = make_member(tenant_b, "finance@b.test", Role.FINANCE)
    response = client_for(finance_b).get(reverse("report-focus-csv"), MARCH)
    rows = parse_csv(response)
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert header == FOCUS_COLUMNS
    expected = sum(r.cost_usd for r in ledger if r.tenant_id == tenant_b.pk
                   and r.created_at >= datetime(2025, 3, 1, 5, tzinfo=UTC))  # New York's 1 March
    for column in ("BilledCost", "EffectiveCost", "ListCost"):
        assert sum(Decimal(row[column]) for row in rows) == expected
    first = rows[0]
    assert first["BillingCurrency"] == "USD" and first["ChargeCategory"] == "Usage"
    assert first["ChargePeriodStart"] == "2025-03-01T05:00:00Z" and first["ChargePeriodEnd"] == "2025-03-02T05:00:00Z"
    assert first["BillingPeriodStart"] == "2025-03-01T05:00:00Z" and first["BillingPeriodEnd"] == "2025-04-01T04:00:00Z"
    assert {row["BillingAccountId"] for row in rows} == {tenant_b.slug}


@pytest.mark.django_db
def test_it_compares_month_over_month(ledger, tenant_a, admin_a):
    body = client_for(admin_a).get(reverse("report-mom"), {"dimension": "team", "month": "2025-03"}).json()
    assert body["previous_month"] == "2025-02"
    feb = [r for r in ledger if r.tenant_id == tenant_a.pk and r.created_at < datetime(2025, 3, 1, tzinfo=UTC)]
    now, before = by(in_march(ledger, tenant_a), "team_id"), by(feb, "team_id")
    for row in body["rows"]:
        assert Decimal(row["cost_usd"]) == now[row["value"]]
        assert Decimal(row["previous_cost_usd"]) == before[row["value"]]
        assert Decimal(row["change_usd"]) == now[row["value"]] - before[row["value"]]
        assert Decimal(row["previous_to_date_cost_usd"]) == before[row["value"]]  # March is over
    csv_rows = parse_csv(client_for(admin_a).get(reverse("report-mom-csv"), {"dimension": "team", "month": "2025-03"}))
    assert sum(Decimal(row["cost_usd"]) for row in csv_rows) == sum(now.values())


@pytest.mark.django_db
def test_it_forecasts_the_month_on_its_daily_run_rate(ledger, tenant_a, admin_a):
    midday_10th = datetime(2025, 3, 10, 12, tzinfo=UTC)
    query = Query([tenant_a], date(2025, 3, 1), date(2025, 3, 9), "tenant")
    [row] = forecast(query, date(2025, 3, 1), now=midday_10th)
    to_date = sum(r.cost_usd for r in in_march(ledger, tenant_a) if r.created_at < datetime(2025, 3, 10, tzinfo=UTC))
    assert row["days_elapsed"] == 9.5 and row["days_in_month"] == 31
    assert Decimal(row["cost_to_date_usd"]) == to_date
    assert Decimal(row["forecast_usd"]) == pytest.approx(to_date / Decimal("9.5") * 31, rel=Decimal("1e-9"))
    past = client_for(admin_a).get(reverse("report-forecast"), {"month": "2025-02"}).json()["rows"]
    assert past[0]["forecast_usd"] == past[0]["cost_to_date_usd"]  # a month that is over is its actual cost
    future = client_for(admin_a).get(reverse("report-forecast"), {"month": "2999-01"})
    assert future.status_code == 400


def pdf_text(content):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.django_db
def test_it_renders_a_statement_pdf_with_the_totals(ledger, tenant_a, finance_a):
    url = reverse("statement-pdf", kwargs={"tenant": tenant_a.slug, "month": "2025-03"})
    response = client_for(finance_a).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text, march = pdf_text(response.content), in_march(ledger, tenant_a)
    assert f"{sum(r.cost_usd for r in march):.12f}" in text
    assert str(len(march)) in text and "Tenant A" in text and "research" in text


@pytest.mark.django_db
def test_it_exports_statement_csvs_equal_to_the_ledger(ledger, tenant_a, finance_a):
    client, march = client_for(finance_a), in_march(ledger, tenant_a)
    url = reverse("statement-csv", kwargs={"tenant": tenant_a.slug, "month": "2025-03"})
    rows = parse_csv(client.get(url))
    assert sum(Decimal(row["cost_usd"]) for row in rows) == sum(r.cost_usd for r in march)
    assert sum(int(row["requests"]) for row in rows) == len(march)
    team = Team.objects.get(tenant=tenant_a, name="support")
    url = reverse("team-statement-csv", kwargs={"tenant": tenant_a.slug, "team": team.pk, "month": "2025-03"})
    rows = parse_csv(client.get(url))
    assert {row["team"] for row in rows} == {"support"}
    assert sum(Decimal(row["cost_usd"]) for row in rows) == sum(r.cost_usd for r in march if r.team_id == team.pk)
    pdf = client.get(reverse("team-statement-pdf", kwargs={"tenant": tenant_a.slug, "team": team.pk,
                                                            "month": "2025-03"}))
    assert "support" in pdf_text(pdf.content)


@pytest.mark.django_db
def test_it_neutralises_formulas_in_csv_cells(tenant_a, admin_a):
    Team.objects.create(tenant=tenant_a, name="=HYPERLINK(\"http://evil\")")
    keys = make_world(tenant_a)
    keys[0].team = Team.objects.get(name__startswith="=")
    keys[0].save()
    generate_usage(keys[:1], datetime(2025, 3, 2, tzinfo=UTC), datetime(2025, 3, 3, tzinfo=UTC), 3)
    rollup_period(date(2025, 3, 1), date(2025, 3, 31))
    rows = parse_csv(client_for(admin_a).get(reverse("report-cost-csv"), {"dimension": "team", **MARCH}))
    assert rows[0]["label"].startswith("'=")


@pytest.mark.django_db
def test_it_documents_the_reports_in_the_openapi_schema(admin_a):
    schema = client_for(admin_a).get("/api/schema/?format=json").json()
    validate(schema)
    for path in ("/api/v1/reports/cost/", "/api/v1/reports/cost.csv", "/api/v1/reports/month-over-month/",
                 "/api/v1/reports/forecast/", "/api/v1/reports/focus.csv", "/api/v1/statements/{tenant}/{month}.pdf",
                 "/api/v1/statements/{tenant}/teams/{team}/{month}.csv"):
        assert path in schema["paths"], path
    parameters = {p["name"] for p in schema["paths"]["/api/v1/reports/cost/"]["get"]["parameters"]}
    assert {"dimension", "period", "from", "to", "tenant", "team", "key", "user", "route", "model"} <= parameters
