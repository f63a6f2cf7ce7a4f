"""Deleting an object others depend on (on_delete=PROTECT): a 409 naming them, nothing deleted.

Every PROTECT relation of the project is listed in PROTECTED below; a new one fails
test_it_knows_every_protect_relation until it gets its delete test here.
"""
import pytest
from django.apps import apps
from django.db import models
from django.urls import reverse

from gateway.models import Provider, ProviderKind, Role, Route, Tenant
from gateway.services.dependants import MAX_NAMED
from gateway.services.routes import route_save
from tests.conftest import client_for, make_member
from tests.factories import make_provider, make_route

# (model label, field) of each PROTECT foreign key, and how a user could hit it.
PROTECTED = {
    ("gateway.RouteTarget", "provider"): "DELETE /api/v1/providers/{id}/ and /api/v1/tenants/{id}/",
    # A re-rating run is history: no API or console deletes one (only the ORM could).
    ("billing.RatingAdjustment", "run"): None,
}


def test_it_knows_every_protect_relation():
    found = {
        (model._meta.label, field.name)
        for model in apps.get_models() for field in model._meta.get_fields()
        if getattr(field, "remote_field", None) is not None and field.concrete
        and getattr(field.remote_field, "on_delete", None) in (models.PROTECT, models.RESTRICT)
    }
    assert found == set(PROTECTED)


@pytest.mark.django_db
def test_it_answers_409_naming_the_routes_when_deleting_a_provider_they_use(tenant_a, admin_a):
    route = make_route(tenant_a, "chat")
    provider = route.targets.get().provider
    response = client_for(admin_a).delete(reverse("provider-detail", args=[provider.pk]))
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "protected" and error["dependants_total"] == 1
    assert error["dependants"] == [{"type": "route", "id": route.pk, "name": "chat"}]
    assert 'route "chat"' in error["message"]
    assert Provider.objects.filter(pk=provider.pk).exists()


@pytest.mark.django_db
def test_it_caps_the_named_dependants(tenant_a, admin_a):
    provider = make_provider(tenant_a, "popular")
    extra = 3  # routes beyond the cap: counted, not named
    for i in range(MAX_NAMED + extra):
        route_save(Route(tenant=tenant_a, name=f"r{i:02d}"), targets=[(provider, "mock-1", 1)])
    error = client_for(admin_a).delete(reverse("provider-detail", args=[provider.pk])).json()["error"]
    assert len(error["dependants"]) == MAX_NAMED and error["dependants_total"] == MAX_NAMED + extra
    assert f"and {extra} more" in error["message"]


@pytest.mark.django_db
def test_it_answers_409_when_deleting_a_tenant_whose_provider_a_shared_route_uses(tenant_a):
    owner = make_member(tenant_a, "owner@a.test", Role.OWNER)
    provider = Provider.objects.create(tenant=tenant_a, name="own", kind=ProviderKind.MOCK)
    # Not possible through the API (shared routes target shared providers), but an old
    # database or a hand-made row can hold it: the delete must still be a clean 409.
    shared = route_save(Route(tenant=None, name="everyone"), targets=[(provider, "mock-1", 1)])
    response = client_for(owner).delete(reverse("tenant-detail", args=[tenant_a.pk]))
    assert response.status_code == 409, response.content
    assert response.json()["error"]["dependants"] == [{"type": "route", "id": shared.pk, "name": "everyone"}]
    assert Tenant.objects.filter(pk=tenant_a.pk).exists()


@pytest.mark.django_db
def test_it_shows_the_console_a_page_naming_the_routes(admin_a, tenant_a):
    from tests.console.conftest import signed_in

    route = make_route(tenant_a, "uses")
    provider = route.targets.get().provider
    response = signed_in(admin_a).post(reverse("console:provider_delete", args=[provider.pk]))
    assert response.status_code == 409
    page = response.content.decode()
    assert "is still in use" in page and reverse("console:route_edit", args=[route.pk]) in page and ">uses<" in page
    assert Provider.objects.filter(pk=provider.pk).exists()
