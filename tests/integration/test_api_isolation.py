"""Tenant isolation on every admin API endpoint (RELIABILITY.md B2).

Enumerates the router, so a new endpoint without a factory in
tests/factories.py fails the suite.
"""
import pytest
from django.apps import apps
from django.urls import reverse

from gateway.api.urls import router
from tests.conftest import client_for
from tests.factories import FACTORIES, make_key

WRITE_METHODS = ("put", "patch", "delete")


def row_counts():
    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.label != "gateway.AuditEvent"}


def endpoints():
    """(basename, viewset, [detail actions]) for every registered resource."""
    for prefix, viewset, basename in router.registry:
        extra = [a for a in viewset.get_extra_actions() if a.detail]
        yield basename, viewset, extra


def all_basenames():
    return [basename for _p, _v, basename in router.registry]


def test_it_has_a_factory_for_every_endpoint():
    missing = set(all_basenames()) - set(FACTORIES)
    assert not missing, f"endpoints without an isolation case: {sorted(missing)}"


def test_it_routes_every_api_url_through_the_router():
    from gateway.api import urls

    assert urls.urlpatterns == router.urls


def _detail_calls(basename, viewset, extra, pk):
    detail = reverse(f"{basename}-detail", args=[pk])
    calls = [("get", detail)]
    if "update" in dir(viewset):
        calls += [(m, detail) for m in WRITE_METHODS]
    for action in extra:
        for method in action.mapping:
            calls.append((method, reverse(f"{basename}-{action.url_name}", args=[pk])))
    return calls


def _snapshot(obj):
    fresh = type(obj)._default_manager.filter(pk=obj.pk).values().first()
    return fresh


@pytest.mark.django_db
@pytest.mark.parametrize("basename", all_basenames())
def test_it_hides_tenant_a_objects_from_tenant_b_admin(basename, tenant_a, admin_b):
    viewset, extra = next((v, e) for b, v, e in endpoints() if b == basename)
    obj = FACTORIES[basename](tenant_a)
    client = client_for(admin_b)
    before, before_obj = row_counts(), _snapshot(obj)
    for method, url in _detail_calls(basename, viewset, extra, obj.pk):
        response = getattr(client, method)(url, data={}, format="json")
        assert response.status_code == 404, (method, url, response.status_code, response.content)
    assert row_counts() == before
    assert _snapshot(obj) == before_obj
    listing = client.get(reverse(f"{basename}-list")).json()
    ids = [row["id"] for row in listing["results"]]
    assert obj.pk not in ids


def _readable_by(viewer, basename, tenant):
    """An object of `basename` the viewer may read: of keys, viewers read only their own."""
    return make_key(tenant, owner=viewer) if basename == "key" else FACTORIES[basename](tenant)


@pytest.mark.django_db
@pytest.mark.parametrize("basename", all_basenames())
def test_it_forbids_writes_by_a_viewer(basename, tenant_a, member_ro):
    viewset, extra = next((v, e) for b, v, e in endpoints() if b == basename)
    obj = _readable_by(member_ro, basename, tenant_a)
    client = client_for(member_ro)
    before = row_counts()
    calls = [(m, u) for m, u in _detail_calls(basename, viewset, extra, obj.pk) if m != "get"]
    if "create" in dir(viewset):
        calls.append(("post", reverse(f"{basename}-list")))
    if not calls:  # a read-only resource offers no write at all
        detail, listing = reverse(f"{basename}-detail", args=[obj.pk]), reverse(f"{basename}-list")
        for method, url in [("post", listing), *((m, detail) for m in WRITE_METHODS)]:
            assert getattr(client, method)(url, data={}, format="json").status_code == 405
        assert row_counts() == before
        return
    for method, url in calls:
        response = getattr(client, method)(url, data={"tenant": tenant_a.pk}, format="json")
        assert response.status_code == 403, (method, url, response.status_code, response.content)
    assert row_counts() == before


@pytest.mark.django_db
def test_it_lets_a_viewer_read_its_own_tenant(tenant_a, member_ro):
    client = client_for(member_ro)
    for basename in ("tenant", "team", "key", "provider", "route", "budget"):
        obj = _readable_by(member_ro, basename, tenant_a)
        assert client.get(reverse(f"{basename}-detail", args=[obj.pk])).status_code == 200


@pytest.mark.django_db
def test_it_refuses_creating_objects_in_another_tenant(tenant_a, admin_b):
    client = client_for(admin_b)
    before = row_counts()
    response = client.post(reverse("team-list"), {"tenant": tenant_a.pk, "name": "intruders"}, format="json")
    assert response.status_code == 400
    assert "tenant" in response.json()["error"]["fields"]
    assert row_counts() == before


@pytest.mark.django_db
def test_it_refuses_references_to_another_tenants_objects(tenant_a, tenant_b, admin_b):
    foreign_route = FACTORIES["route"](tenant_a)
    client = client_for(admin_b)
    response = client.post(
        reverse("key-list"), {"tenant": tenant_b.pk, "name": "k", "routes": [foreign_route.pk]}, format="json"
    )
    assert response.status_code == 400
    assert "routes" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_it_shows_the_audit_log_to_admins_but_not_viewers(tenant_a, admin_a, member_ro):
    event = FACTORIES["audit-event"](tenant_a)
    url = reverse("audit-event-detail", args=[event.pk])
    assert client_for(admin_a).get(url).status_code == 200
    assert client_for(member_ro).get(url).status_code == 404
