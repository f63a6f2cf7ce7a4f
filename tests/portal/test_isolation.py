"""Tenant and owner isolation on every portal URL, by enumerating portal/urls.py."""
import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from portal import urls as portal_urls
from portal.services import invitation_create
from tests.console.conftest import row_counts, signed_in
from tests.portal.cases import CASES


def patterns():
    return [p for p in portal_urls.urlpatterns if isinstance(p, URLPattern)]


def names():
    return [p.name for p in patterns()]


def takes_pk(name):
    pattern = next(p for p in patterns() if p.name == name)
    return "pk" in pattern.pattern.converters


def url_for(name, tenant, owner=None):
    case = CASES[name]
    if takes_pk(name):
        return reverse(f"portal:{name}", args=[case.factory(tenant, owner).pk])
    if case.token:
        return reverse(f"portal:{name}", args=[invitation_create(tenant=tenant, email="url@a.test")[1]])
    return reverse(f"portal:{name}")


def _snapshot(obj):
    return type(obj)._default_manager.filter(pk=obj.pk).values().first()


def _assert_hidden(client, url, obj):
    before, before_obj = row_counts(), _snapshot(obj)
    statuses = {method: getattr(client, method)(url, data={}).status_code for method in ("get", "post")}
    # 405 only where the URL does not take that method; wherever it does, the answer is 404.
    assert set(statuses.values()) <= {404, 405} and 404 in statuses.values(), (url, statuses)
    assert row_counts() == before
    assert _snapshot(obj) == before_obj


def test_it_has_a_case_for_every_portal_url():
    missing = set(names()) - set(CASES)
    assert not missing, f"portal URLs without an isolation case: {sorted(missing)}"
    assert not set(CASES) - set(names()), "cases for URLs that no longer exist"


def test_it_has_a_factory_for_every_url_with_an_object_id():
    assert all(CASES[name].factory for name in names() if takes_pk(name))


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if takes_pk(n)])
def test_it_hides_tenant_a_objects_from_tenant_b_admin(name, tenant_a, dev_a, admin_b):
    obj = CASES[name].factory(tenant_a, dev_a)
    _assert_hidden(signed_in(admin_b), reverse(f"portal:{name}", args=[obj.pk]), obj)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if CASES[n].owned])
@pytest.mark.parametrize("intruder", ["dev_a2", "admin_a"])
def test_it_hides_a_users_key_from_other_users_of_the_tenant(name, intruder, tenant_a, dev_a, request):
    obj = CASES[name].factory(tenant_a, dev_a)
    _assert_hidden(signed_in(request.getfixturevalue(intruder)), reverse(f"portal:{name}", args=[obj.pk]), obj)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if CASES[n].writes])
def test_it_forbids_unsafe_posts_by_a_viewer(name, tenant_a, member_ro):
    url = url_for(name, tenant_a, member_ro)
    before = row_counts()
    response = signed_in(member_ro).post(url, data={"name": "viewer-was-here", "email": "x@a.test", "days": 1})
    assert response.status_code == 403, (url, response.status_code)
    assert row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if CASES[n].admin])
def test_it_forbids_admin_pages_to_a_developer(name, tenant_a, dev_a):
    url = url_for(name, tenant_a, dev_a)
    before = row_counts()
    client = signed_in(dev_a)
    assert client.post(url, data={"email": "x@a.test", "days": 1}).status_code == 403
    if not takes_pk(name):
        assert client.get(url).status_code == 403
    assert row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if not CASES[n].public])
def test_it_requires_sign_in(name, tenant_a, dev_a):
    response = Client().get(url_for(name, tenant_a, dev_a))
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert reverse("portal:login") in response["Location"]


@pytest.mark.django_db
def test_it_refuses_switching_to_a_tenant_the_user_is_not_in(tenant_a, admin_b):
    client = signed_in(admin_b)
    assert client.post(reverse("portal:tenant_switch", args=[tenant_a.pk])).status_code == 404
    assert "console_tenant_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in names() if not CASES[n].public and not takes_pk(n)
                                  and not CASES[n].admin])
def test_it_opens_every_page_for_a_developer(name, tenant_a, dev_a):
    assert signed_in(dev_a).get(url_for(name, tenant_a, dev_a)).status_code == 200
