"""Every console page renders for an admin, with the role-aware navigation and htmx partials."""
import pytest
from django.urls import reverse

from gateway.models import Membership, Role
from tests.console.conftest import signed_in
from tests.console.test_isolation import names, url_for
from tests.factories import make_provider

GET_PAGES = [n for n in names() if n not in ("logout", "tenant_switch") and not n.endswith("_delete")
             and n not in ("provider_test", "key_revoke")]


@pytest.mark.django_db
@pytest.mark.parametrize("name", GET_PAGES)
def test_it_renders_every_page_for_an_admin(name, tenant_a, admin_a):
    client = signed_in(admin_a)
    response = client.get(url_for(name, tenant_a))
    expected = 302 if name == "login" else 200  # a signed-in user skips the sign-in page
    assert response.status_code == expected, name


@pytest.mark.django_db
def test_it_shows_navigation_by_role(tenant_a, member_ro, admin_a):
    viewer_page = signed_in(member_ro).get(reverse("console:providers")).content.decode()
    admin_page = signed_in(admin_a).get(reverse("console:providers")).content.decode()
    assert 'id="nav-audit"' not in viewer_page and 'id="provider-new"' not in viewer_page
    assert 'id="nav-audit"' in admin_page and 'id="provider-new"' in admin_page


@pytest.mark.django_db
def test_it_sends_a_partial_with_vary_to_htmx(admin_client):
    response = admin_client.get(reverse("console:providers"), headers={"HX-Request": "true"})
    assert "<html" not in response.content.decode()
    assert "HX-Request" in response["Vary"]
    full = admin_client.get(reverse("console:providers"))
    assert "<html" in full.content.decode() and "HX-Request" in full["Vary"]


@pytest.mark.django_db
def test_it_switches_tenant_and_scopes_pages(tenant_a, tenant_b, admin_a):
    Membership.objects.create(tenant=tenant_b, user=admin_a, role=Role.VIEWER)
    make_provider(tenant_a, "only-in-a")
    make_provider(tenant_b, "only-in-b")
    client = signed_in(admin_a)
    page = client.get(reverse("console:providers")).content.decode()
    assert "only-in-a" in page and "only-in-b" not in page and 'id="tenant-switcher"' in page
    assert client.post(reverse("console:tenant_switch", args=[tenant_b.pk])).status_code == 302
    page = client.get(reverse("console:providers")).content.decode()
    assert "only-in-b" in page and "only-in-a" not in page
    assert client.post(reverse("console:provider_create"), {"name": "x", "kind": "mock"}).status_code == 403


@pytest.mark.django_db
def test_it_shows_an_empty_state(admin_client):
    assert "No providers yet" in admin_client.get(reverse("console:providers")).content.decode()
