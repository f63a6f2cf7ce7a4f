"""Dashboards read the rollups: totals, filters, tenant isolation, developers' own keys, fixed query counts."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.rollups import rollup_hours, rollup_period
from gateway.models import ApiKey, Membership, Role, User
from gateway.services.keys import key_create
from tests.console.conftest import signed_in
from tests.console.ledger import make_usage


def _rollup():
    now = timezone.now()
    rollup_hours(now - timedelta(days=8), now + timedelta(hours=1))
    rollup_period(now.date() - timedelta(days=31), now.date())


def _stat(body, name):
    start = body.index(f'id="stat-{name}">') + len(f'id="stat-{name}">')
    return body[start:body.index("<", start)]


@pytest.mark.django_db
def test_it_sums_the_rollups_of_the_tenant_only(tenant_a, tenant_b, admin_a, admin_b):
    for _ in range(3):
        make_usage(tenant_a)
    make_usage(tenant_a, status=502, route="other")
    make_usage(tenant_b)
    _rollup()
    body = signed_in(admin_a).get(reverse("console:dashboard")).content.decode()
    assert _stat(body, "requests") == "4" and _stat(body, "errors").startswith("1 ")
    assert 'id="dashboard-data"' in body
    other = signed_in(admin_b).get(reverse("console:dashboard")).content.decode()
    assert _stat(other, "requests") == "1"


@pytest.mark.django_db
@pytest.mark.parametrize("range_name", ["24h", "7d", "30d", "90d"])
def test_it_filters_by_route_over_each_range(range_name, tenant_a, admin_a):
    make_usage(tenant_a, route="chat")
    make_usage(tenant_a, route="other", provider="p2", model="m2")
    _rollup()
    client = signed_in(admin_a)
    body = client.get(reverse("console:dashboard"), {"range": range_name, "route": "other"}).content.decode()
    assert _stat(body, "requests") == "1"
    both = client.get(reverse("console:dashboard"), {"range": range_name, "route": "other", "model": "m2"})
    assert _stat(both.content.decode(), "requests") == "1"  # DETAIL rows when several filters apply


@pytest.mark.django_db
def test_it_shows_a_developer_only_their_own_keys(tenant_a, admin_a):
    dev = User.objects.create_user(email="dev@a.test", password="x-unused-pw-1")
    Membership.objects.create(tenant=tenant_a, user=dev, role=Role.DEVELOPER)
    key_create(tenant=tenant_a, name="mine", owner=dev)
    mine = ApiKey.objects.get(name="mine")
    make_usage(tenant_a, key_id=mine.pk)
    make_usage(tenant_a, key_id=None)
    _rollup()
    body = signed_in(dev).get(reverse("console:dashboard")).content.decode()
    assert _stat(body, "requests") == "1"
    assert _stat(signed_in(admin_a).get(reverse("console:dashboard")).content.decode(), "requests") == "2"


@pytest.mark.django_db
def test_it_sends_the_body_partial_to_htmx(admin_client):
    response = admin_client.get(reverse("console:dashboard"), headers={"HX-Request": "true"})
    assert "<html" not in response.content.decode() and "HX-Request" in response["Vary"]
    assert 'id="dashboard-empty"' in response.content.decode()


def queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"range": "30d", "route": "r1", "model": "m"}])
def test_it_keeps_the_dashboard_query_count_fixed_as_rows_grow(params, tenant_a, admin_a):
    client, url = signed_in(admin_a), reverse("console:dashboard")

    def grow(count):
        for i in range(count):
            make_usage(tenant_a, route=f"r{i % 4}", created_at=timezone.now() - timedelta(hours=i))
        _rollup()

    grow(3)
    few = queries(client, url, params)
    grow(40)
    assert queries(client, url, params) == few
