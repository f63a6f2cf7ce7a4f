"""Shared fixtures: two tenants with an admin each, and a read-only member.

Tests run against the real PostgreSQL and Redis that `make test` points at.
"""
import pytest
from rest_framework.test import APIClient

from gateway.models import Membership, Role, Tenant, User


@pytest.fixture(autouse=True)
def _no_dns_lookups_on_save(settings):
    """Tests stay on loopback: provider names in their data (api.openai.com, vllm) are not
    resolved when saved; tests of that check turn it back on."""
    settings.SSRF_RESOLVE_ON_SAVE = False


@pytest.fixture
def tenant_a(db):
    return Tenant.objects.create(slug="tenant-a", name="Tenant A")


@pytest.fixture
def tenant_b(db):
    return Tenant.objects.create(slug="tenant-b", name="Tenant B")


def make_member(tenant, email, role):
    user = User.objects.create_user(email=email, password="pw-" + email)
    Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


@pytest.fixture
def admin_a(tenant_a):
    return make_member(tenant_a, "admin@a.test", Role.ADMIN)


@pytest.fixture
def admin_b(tenant_b):
    return make_member(tenant_b, "admin@b.test", Role.ADMIN)


@pytest.fixture
def member_ro(tenant_a):
    return make_member(tenant_a, "viewer@a.test", Role.VIEWER)


@pytest.fixture
def api_client():
    return APIClient(enforce_csrf_checks=True)


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client
