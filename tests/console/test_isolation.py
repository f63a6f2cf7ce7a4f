"""Tenant isolation and roles on every console URL (RELIABILITY.md B2), by enumerating the URLconf."""
import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from gateway.console import urls as console_urls
from tests.console.cases import CASES
from tests.console.conftest import row_counts, signed_in


def patterns():
    return [p for p in console_urls.urlpatterns if isinstance(p, URLPattern)]


def names():
    return [p.name for p in patterns()]


def takes_pk(name):
    pattern = next(p for p in patterns() if p.name == name)
    return "pk" in pattern.pattern.converters


def url_for(name, tenant):
    case = CASES[name]
    if takes_pk(name):
        return reverse(f"console:{name}", args=[case.factory(tenant).pk])
    return reverse(f"console:{name}")


def _snapshot(obj):
    return type(obj)._default_manager.filter(pk=obj.pk).values().first()


def test_it_has_a_case_for_every_console_url():
    missing = set(names()) - set(CASES)
    assert not missing, f"console URLs without an isolation case: {sorted(missing)}"
    assert not set(CASES) - set(names()), "cases for URLs that no longer exist"


def test_it_has_a_factory_for_every_url_with_an_object_id():
    assert all(CASES[name].factory for name in names() if takes_pk(name))


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if takes_pk(n)])
def test_it_hides_tenant_a_objects_from_tenant_b_admin(name, tenant_a, admin_b):
    obj = CASES[name].factory(tenant_a)
    url = reverse(f"console:{name}", args=[obj.pk])
    client = signed_in(admin_b)
    before, before_obj = row_counts(), _snapshot(obj)
    statuses = {method: getattr(client, method)(url, data={}).status_code for method in ("get", "post")}
    # 405 only where the URL does not take that method; wherever it does, the answer is 404.
    assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), statuses
    assert row_counts() == before
    assert _snapshot(obj) == before_obj


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if not CASES[n].public and not CASES[n].viewer_ok])
def test_it_forbids_unsafe_posts_by_a_viewer(name, tenant_a, member_ro):
    url = url_for(name, tenant_a)
    client = signed_in(member_ro)
    before = row_counts()
    response = client.post(url, data={"name": "viewer-was-here", "email": "x@a.test", "role": "owner"})
    expected = {403} if CASES[name].writes else {403, 405}
    assert response.status_code in expected, (url, response.status_code)
    assert row_counts() == before


@pytest.mark.django_db
# The tenant page is excluded: viewers read it; only its POST is refused (tested above).
@pytest.mark.parametrize("name", [n for n in names() if CASES[n].writes and not takes_pk(n) and n != "tenant"])
def test_it_forbids_write_forms_to_a_viewer(name, tenant_a, member_ro):
    assert signed_in(member_ro).get(reverse(f"console:{name}")).status_code == 403


@pytest.mark.django_db
def test_it_refuses_switching_to_a_tenant_the_user_is_not_in(tenant_a, admin_b):
    client = signed_in(admin_b)
    assert client.post(reverse("console:tenant_switch", args=[tenant_a.pk])).status_code == 404
    assert "console_tenant_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if not CASES[n].public])
def test_it_requires_sign_in(name, tenant_a):
    response = signed_out_get(url_for(name, tenant_a))
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert reverse("console:login") in response["Location"]


def signed_out_get(url):
    return Client().get(url)
