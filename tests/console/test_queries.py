"""List pages run a fixed number of queries however many rows they show (no N+1)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Budget, PriceOverride
from gateway.models import Membership, Role, Route, User
from gateway.services.keys import key_create
from gateway.services.routes import route_save
from tests.console.conftest import signed_in
from tests.factories import make_provider, make_route, make_team


def _providers(tenant, i):
    make_provider(tenant, f"p{i}")


def _routes(tenant, i):
    route = make_route(tenant, f"r{i}")
    if i:  # a fallback per route, so the fallback links are rendered too
        route_save(route, fallbacks=[Route.objects.get(tenant=tenant, name="r0")])


def _keys(tenant, i):
    team = make_team(tenant, f"t{i}")
    key_create(tenant=tenant, name=f"k{i}", team=team, routes=[make_route(tenant, f"kr{i}")])


def _members(tenant, i):
    user = User.objects.create_user(email=f"m{i}@a.test", password="x-unused-pw-1")
    Membership.objects.create(tenant=tenant, user=user, role=Role.DEVELOPER, team=make_team(tenant, f"mt{i}"))


def _teams(tenant, i):
    make_team(tenant, f"team{i}")


def _budgets(tenant, i):
    Budget.objects.create(tenant=tenant, scope=Budget.Scope.TEAM, team=make_team(tenant, f"bt{i}"), amount_usd="5")


def _prices(tenant, i):
    PriceOverride.objects.create(tenant=tenant, provider=make_provider(tenant, f"pp{i}"), model="m",
                                 input_per_mtok="1", output_per_mtok="2")


def _audit(tenant, i):
    make_team(tenant, f"audited{i}")  # each creation writes an audit row


PAGES = {
    "providers": _providers, "routes": _routes, "keys": _keys, "members": _members, "teams": _teams,
    "budgets": _budgets, "prices": _prices, "audit": _audit,
}


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("page", sorted(PAGES))
def test_it_keeps_the_query_count_fixed_as_rows_grow(page, tenant_a, admin_a):
    client, url, make = signed_in(admin_a), reverse(f"console:{page}"), PAGES[page]
    for i in range(3):
        make(tenant_a, i)
    few = _queries(client, url)
    for i in range(3, 30):
        make(tenant_a, i)
    assert _queries(client, url) == few
