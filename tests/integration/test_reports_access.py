"""Isolation and roles on every report endpoint.

They are plain views, not router resources, so test_api_isolation.py does not
enumerate them: each is listed here, and a URL added to billing/reports/urls.py
without a case fails `test_it_covers_every_report_url`.
"""
import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from analytics.rollups import rollup_period
from billing.reports import urls as report_urls
from gateway.models import Role, Team
from gateway.services.keys import key_create
from tests.conftest import client_for, make_member
from tests.integration.test_rollups import generate_usage, make_world

QUERY = {"from": "2025-03-01", "to": "2025-03-31", "month": "2025-03"}
QUERY_URLS = ["report-cost", "report-cost-csv", "report-mom", "report-mom-csv", "report-forecast",
              "report-forecast-csv", "report-focus-csv"]
STATEMENT_URLS = ["statement", "statement-pdf", "statement-csv"]
TEAM_STATEMENT_URLS = ["team-statement", "team-statement-pdf", "team-statement-csv"]


@pytest.fixture
def usage(tenant_a, tenant_b):
    keys = make_world(tenant_a) + make_world(tenant_b)
    generate_usage(keys, datetime(2025, 3, 2, tzinfo=UTC), datetime(2025, 3, 20, tzinfo=UTC), 300)
    rollup_period(date(2025, 3, 1), date(2025, 3, 31))


def statement_kwargs(name, tenant):
    kwargs = {"tenant": tenant.slug, "month": "2025-03"}
    if name in TEAM_STATEMENT_URLS:
        kwargs["team"] = Team.objects.filter(tenant=tenant).first().pk
    return kwargs


def all_calls(tenant, with_tenant_param=True):
    """(url, query) for every report URL, aimed at `tenant`."""
    query = {**QUERY, "tenant": tenant.slug} if with_tenant_param else QUERY
    calls = [(reverse(name), query) for name in QUERY_URLS]
    return calls + [(reverse(n, kwargs=statement_kwargs(n, tenant)), {}) for n in STATEMENT_URLS + TEAM_STATEMENT_URLS]


def tenants_in(response):
    """The tenant slugs a report response mentions in its rows."""
    if response["Content-Type"].startswith("text/csv"):
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        return {row.get("tenant") or row.get("BillingAccountId") for row in rows}
    return {row["tenant"] for row in response.json()["rows"]}


def test_it_covers_every_report_url():
    names = {pattern.name for pattern in report_urls.urlpatterns}
    assert names == set(QUERY_URLS + STATEMENT_URLS + TEAM_STATEMENT_URLS)


@pytest.mark.django_db
def test_it_answers_404_for_another_tenant_and_shows_none_of_its_rows(usage, tenant_a, tenant_b):
    finance_b = make_member(tenant_b, "finance@b.test", Role.FINANCE)
    client = client_for(finance_b)
    for url, query in all_calls(tenant_a):
        response = client.get(url, query)
        assert response.status_code == 404, (url, response.status_code)
        assert response.json() == {"error": {"code": "not_found", "message": "not found"}}
    for name in QUERY_URLS:
        response = client.get(reverse(name), QUERY)
        assert response.status_code == 200, (name, response.content)
        assert tenants_in(response) == {tenant_b.slug}, name


@pytest.mark.django_db
def test_it_hides_another_tenants_team_and_filter_values(usage, tenant_a, tenant_b):
    finance_a = make_member(tenant_a, "finance@a.test", Role.FINANCE)
    foreign = Team.objects.filter(tenant=tenant_b).first()
    client = client_for(finance_a)
    for name in TEAM_STATEMENT_URLS:
        url = reverse(name, kwargs={"tenant": tenant_a.slug, "team": foreign.pk, "month": "2025-03"})
        assert client.get(url).status_code == 404
    rows = client.get(reverse("report-cost"), {**QUERY, "dimension": "team", "team": foreign.pk}).json()["rows"]
    assert rows == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_it_forbids_viewers_and_developers(usage, tenant_a, role):
    member = make_member(tenant_a, f"{role}@a.test", role)
    client = client_for(member)
    for url, query in all_calls(tenant_a) + all_calls(tenant_a, with_tenant_param=False)[: len(QUERY_URLS)]:
        response = client.get(url, query)
        assert response.status_code == 403, (url, response.status_code)
        assert response["Content-Type"].startswith("application/json")  # the error envelope, even for .csv/.pdf


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.FINANCE])
def test_it_lets_owners_admins_and_finance_read(usage, tenant_a, role):
    client = client_for(make_member(tenant_a, f"{role}@a.test", role))
    for url, query in all_calls(tenant_a):
        response = client.get(url, query)
        assert response.status_code == 200, (url, response.status_code, response.content[:200])
        if url.endswith(".pdf"):
            assert response.content.startswith(b"%PDF")
        elif "/reports/" in url:
            assert tenants_in(response) == {tenant_a.slug}, url


@pytest.mark.django_db
def test_it_confines_a_key_to_its_tenant(usage, tenant_a, tenant_b):
    person = make_member(tenant_a, "finance@both.test", Role.FINANCE)
    make_member(tenant_b, "finance+b@both.test", Role.FINANCE)
    tenant_b.memberships.filter(user__email="finance+b@both.test").update(user=person)
    _key, secret = key_create(tenant=tenant_a, name="finance-key", owner=person)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for url, query in all_calls(tenant_b):
        assert client.get(url, query).status_code == 404, url
    assert tenants_in(client.get(reverse("report-cost"), QUERY)) == {tenant_a.slug}
    assert tenants_in(client_for(person).get(reverse("report-cost"), QUERY)) == {tenant_a.slug, tenant_b.slug}


@pytest.mark.django_db
def test_it_requires_authentication(usage, tenant_a):
    for url, query in all_calls(tenant_a):
        assert APIClient().get(url, query).status_code == 401, url
