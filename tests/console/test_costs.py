"""The costs page: totals equal the ledger, drill-down, roles, isolation, exports, fixed query counts."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from analytics.rollups import rollup_period
from billing.models import AlertEvent, Budget, UsageRecord
from gateway.models import Membership, Role, User
from tests.console.conftest import signed_in
from tests.console.ledger import make_usage
from tests.console.test_dashboards import queries
from tests.factories import make_team


def _rollup():
    today = timezone.now().date()
    rollup_period(today - timedelta(days=40), today + timedelta(days=1))


def _total(body):
    start = body.index('id="cost-total">') + len('id="cost-total">')
    return Decimal(body[start:body.index("<", start)])


def _ledger_total(tenant):
    return UsageRecord.objects.filter(tenant_id=tenant.pk).aggregate(s=Sum("cost_usd"))["s"]


@pytest.mark.django_db
def test_it_totals_equal_the_ledger(tenant_a, tenant_b, admin_a):
    team = make_team(tenant_a, "research")
    for i in range(7):
        make_usage(tenant_a, team_id=team.pk if i % 2 else None, cost_usd=Decimal("0.000123456789") * (i + 1),
                   created_at=timezone.now() - timedelta(minutes=i))
    make_usage(tenant_b, cost_usd=Decimal("5"))
    _rollup()
    client = signed_in(admin_a)
    for dimension in ("tenant", "team", "key", "route", "model"):
        for period in ("month", "day"):
            body = client.get(reverse("console:costs"), {"dimension": dimension, "period": period}).content.decode()
            assert _total(body) == _ledger_total(tenant_a), (dimension, period)
    body = client.get(reverse("console:costs"), {"dimension": "team"}).content.decode()
    assert "research" in body and f"team={team.pk}" in body  # the drill-down link narrows to the team


@pytest.mark.django_db
def test_it_drills_down_to_a_team(tenant_a, admin_a):
    team = make_team(tenant_a, "research")
    make_usage(tenant_a, team_id=team.pk, cost_usd=Decimal("1"))
    make_usage(tenant_a, cost_usd=Decimal("2"))
    _rollup()
    body = signed_in(admin_a).get(reverse("console:costs"), {"team": team.pk, "dimension": "key"}).content.decode()
    assert _total(body) == Decimal("1") and 'id="cost-drill"' in body


@pytest.mark.django_db
def test_it_downloads_a_csv_whose_total_equals_the_page(tenant_a, admin_a):
    make_usage(tenant_a, cost_usd=Decimal("0.5"))
    make_usage(tenant_a, cost_usd=Decimal("0.25"))
    _rollup()
    client = signed_in(admin_a)
    body = client.get(reverse("console:costs")).content.decode()
    href = body.split('id="export-cost-csv"')[0].rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    csv = client.get(href)
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    column = lines[0].split(",").index("cost_usd")
    assert sum(Decimal(line.split(",")[column]) for line in lines[1:]) == _total(body) == Decimal("0.75")


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_it_is_for_owners_admins_and_finance(role, tenant_a):
    user = User.objects.create_user(email="u@a.test", password="x-unused-pw-1")
    Membership.objects.create(tenant=tenant_a, user=user, role=role)
    assert signed_in(user).get(reverse("console:costs")).status_code == 403
    finance = User.objects.create_user(email="f@a.test", password="x-unused-pw-1")
    Membership.objects.create(tenant=tenant_a, user=finance, role=Role.FINANCE)
    assert signed_in(finance).get(reverse("console:costs")).status_code == 200


@pytest.mark.django_db
def test_it_hides_another_tenant_costs_budgets_and_alerts(tenant_a, tenant_b, admin_b):
    make_usage(tenant_a, cost_usd=Decimal("3"))
    budget = Budget.objects.create(tenant=tenant_a, scope=Budget.Scope.TENANT, amount_usd="5")
    AlertEvent.objects.create(tenant=tenant_a, kind="budget", budget=budget, threshold=50, subject="budget",
                              period_start=timezone.now(), spent_usd="3", message="A crossed 50 %")
    _rollup()
    body = signed_in(admin_b).get(reverse("console:costs")).content.decode()
    assert 'id="cost-empty"' in body and "A crossed 50 %" not in body and 'id="budget-status"' not in body


@pytest.mark.django_db
def test_it_shows_budgets_alerts_mom_and_forecast(tenant_a, admin_a):
    make_usage(tenant_a, cost_usd=Decimal("3"))
    budget = Budget.objects.create(tenant=tenant_a, scope=Budget.Scope.TENANT, amount_usd="5")
    AlertEvent.objects.create(tenant=tenant_a, kind="budget", budget=budget, threshold=50, subject="budget",
                              period_start=timezone.now(), spent_usd="3", message="crossed 50 %")
    _rollup()
    body = signed_in(admin_a).get(reverse("console:costs")).content.decode()
    for marker in ('id="budget-status"', 'id="alert-history"', 'id="mom-table"', 'id="forecast-table"',
                   'id="export-statement-pdf"', "crossed 50 %"):
        assert marker in body, marker


@pytest.mark.django_db
def test_it_reports_bad_dates_instead_of_failing(admin_client):
    response = admin_client.get(reverse("console:costs"), {"from": "2025-02-01", "to": "2025-01-01"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("dimension", ["team", "key"])
def test_it_keeps_the_costs_query_count_fixed_as_rows_grow(dimension, tenant_a, admin_a):
    client, url = signed_in(admin_a), reverse("console:costs")

    def grow(start, count):
        for i in range(start, start + count):
            team = make_team(tenant_a, f"ct{i}")
            make_usage(tenant_a, team_id=team.pk, key_id=1000 + i)
            budget = Budget.objects.create(tenant=tenant_a, scope=Budget.Scope.TEAM, team=team, amount_usd="5")
            AlertEvent.objects.create(tenant=tenant_a, kind="budget", budget=budget, threshold=50, subject="budget",
                                      period_start=timezone.now(), spent_usd="3", message=f"alert {i}")
        _rollup()

    grow(0, 3)
    few = queries(client, url, {"dimension": dimension})
    grow(3, 25)
    assert queries(client, url, {"dimension": dimension}) == few
