"""Developers and viewers read only their own keys (README: "developer (own keys only)"; issue 14).

They used to list and read every key of their tenant (names, prefixes, owners, limits) through
/api/v1/keys/ and the console's keys page. Owners, admins and finance still read all of them.
"""
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from gateway.models import Role
from gateway.services.keys import key_create
from tests.conftest import client_for, make_member
from tests.console.conftest import signed_in
from tests.factories import make_key

pytestmark = pytest.mark.django_db
OWN_ONLY = (Role.DEVELOPER, Role.VIEWER)


@pytest.fixture
def keys(tenant_a, admin_a):
    """One key per member of tenant A, named after its owner's role."""
    members = {role: make_member(tenant_a, f"{role}@a.test", role) for role in (*OWN_ONLY, Role.FINANCE)}
    members[Role.ADMIN] = admin_a
    return members, {role: make_key(tenant_a, f"{role}-key", owner=user) for role, user in members.items()}


def _listed(client):
    response = client.get("/api/v1/keys/")
    assert response.status_code == 200
    return {row["name"] for row in response.json()["results"]}


@pytest.mark.parametrize("role", OWN_ONLY)
def test_it_shows_developers_and_viewers_only_their_own_keys_in_the_api(role, keys):
    members, by_role = keys
    client = client_for(members[role])
    assert _listed(client) == {f"{role}-key"}
    assert client.get(f"/api/v1/keys/{by_role[role].pk}/").status_code == 200
    for other in set(by_role) - {role}:
        assert client.get(f"/api/v1/keys/{by_role[other].pk}/").status_code == 404


def test_it_confines_a_developers_bearer_key_to_its_owners_keys(tenant_a, keys):
    members, by_role = keys
    _key, secret = key_create(tenant=tenant_a, name="dev-cli", owner=members[Role.DEVELOPER])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert _listed(client) == {"developer-key", "dev-cli"}
    assert client.get(f"/api/v1/keys/{by_role[Role.ADMIN].pk}/").status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FINANCE])
def test_it_shows_admins_and_finance_every_key_of_the_tenant(role, keys):
    members, by_role = keys
    assert _listed(client_for(members[role])) == {f"{r}-key" for r in by_role}


@pytest.mark.parametrize("role", OWN_ONLY)
def test_it_lists_only_their_own_keys_on_the_console_keys_page(role, keys):
    members, by_role = keys
    page = signed_in(members[role]).get(reverse("console:keys")).content.decode()
    assert f"{role}-key" in page
    assert not [other for other in set(by_role) - {role} if f"{other}-key" in page]


def test_it_lists_every_key_on_the_console_keys_page_for_admins(keys):
    members, by_role = keys
    page = signed_in(members[Role.ADMIN]).get(reverse("console:keys")).content.decode()
    assert all(f"{role}-key" in page for role in by_role)
