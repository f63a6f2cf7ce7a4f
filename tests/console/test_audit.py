"""The audit log page: only the current tenant's events, filters and pagination."""
import pytest
from django.urls import reverse

from gateway.audit_context import acting_as
from tests.factories import make_key, make_team


@pytest.mark.django_db
def test_it_filters_the_audit_log(admin_client, tenant_a, tenant_b, admin_a):
    with acting_as(admin_a):
        make_team(tenant_a, "by-admin")
    make_key(tenant_a, "by-system")
    make_team(tenant_b, "other-tenant")
    url = reverse("console:audit")
    page = admin_client.get(url).content.decode()
    assert "by-admin" in page and "by-system" in page and "other-tenant" not in page
    page = admin_client.get(url, {"object_type": "gateway.team"}).content.decode()
    assert "by-admin" in page and "by-system" not in page
    page = admin_client.get(url, {"actor": "admin@a"}).content.decode()
    assert "by-admin" in page and "by-system" not in page
    page = admin_client.get(url, {"action": "delete"}).content.decode()
    assert "No audit events match" in page
    page = admin_client.get(url, {"since": "2000-01-01", "until": "2000-01-02"}).content.decode()
    assert "No audit events match" in page


@pytest.mark.django_db
def test_it_paginates_the_audit_log(admin_client, tenant_a):
    for i in range(55):  # more than one page of 50
        make_team(tenant_a, f"t{i}")
    page = admin_client.get(reverse("console:audit"), {"action": "create"}).content.decode()
    assert 'id="audit-next"' in page and "action=create&amp;page=2" in page
    second = admin_client.get(reverse("console:audit"), {"action": "create", "page": "2"}).content.decode()
    assert 'id="audit-prev"' in second


@pytest.mark.django_db
def test_it_hides_the_audit_log_from_viewers(tenant_a, member_ro):
    from tests.console.conftest import signed_in

    assert signed_in(member_ro).get(reverse("console:audit")).status_code == 403
