"""Routes in the console: targets, fallbacks and settings validated like the REST API."""
import pytest
from django.urls import reverse

from gateway.models import Route
from tests.factories import make_provider, make_route


def _form(name, provider_ids, **extra):
    data = {"name": name, "strategy": "weighted", "enabled": "on", "targets-TOTAL_FORMS": str(len(provider_ids)),
            "targets-INITIAL_FORMS": "0", "targets-MIN_NUM_FORMS": "1", "targets-MAX_NUM_FORMS": "50"}
    for i, pk in enumerate(provider_ids):
        data.update({f"targets-{i}-provider": pk, f"targets-{i}-model": f"model-{i}", f"targets-{i}-weight": i + 1})
    return {**data, **extra}


@pytest.mark.django_db
def test_it_creates_a_route_with_targets_and_fallbacks(admin_client, tenant_a):
    p1, p2 = make_provider(tenant_a, "one"), make_provider(tenant_a, "two")
    backup = make_route(tenant_a, "backup")
    data = _form("chat", [p1.pk, p2.pk], fallbacks=[backup.pk], timeouts_connect="2.5", cache_enabled="true",
                 cache_ttl="60", limits_rpm="100")
    response = admin_client.post(reverse("console:route_create"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    route = Route.objects.get(tenant=tenant_a, name="chat")
    assert [(t.provider_id, t.model, t.weight) for t in route.targets.all()] == [(p1.pk, "model-0", 1),
                                                                                 (p2.pk, "model-1", 2)]
    assert [link.fallback_id for link in route.fallback_links.all()] == [backup.pk]
    assert route.timeouts == {"connect": 2.5} and route.cache == {"enabled": True, "ttl": 60}
    assert route.limits == {"rpm": 100}


@pytest.mark.django_db
def test_it_refuses_another_tenants_provider_as_target(admin_client, tenant_a, tenant_b):
    foreign = make_provider(tenant_b, "foreign")
    response = admin_client.post(reverse("console:route_create"), _form("chat", [foreign.pk]))
    assert response.status_code == 400
    assert not Route.objects.filter(name="chat").exists()


@pytest.mark.django_db
def test_it_edits_targets_and_keeps_unshown_settings(admin_client, tenant_a):
    route = make_route(tenant_a, "edit-me")
    Route.objects.filter(pk=route.pk).update(cache={"enabled": True, "semantic": {"enabled": True}})
    provider = make_provider(tenant_a, "new-target")
    data = _form("edit-me", [provider.pk], cache_enabled="false")
    assert admin_client.post(reverse("console:route_edit", args=[route.pk]), data).status_code == 302
    route.refresh_from_db()
    assert [t.provider_id for t in route.targets.all()] == [provider.pk]
    assert route.cache == {"enabled": False, "semantic": {"enabled": True}}


@pytest.mark.django_db
def test_it_validates_settings_like_the_api(admin_client, tenant_a):
    provider = make_provider(tenant_a, "p")
    response = admin_client.post(reverse("console:route_create"), _form("bad", [provider.pk], limits_rpm="-1"))
    assert response.status_code == 400


@pytest.mark.django_db
def test_it_adds_a_target_row_with_htmx(admin_client, tenant_a):
    response = admin_client.get(reverse("console:route_target_row"), {"targets-TOTAL_FORMS": "2"},
                                headers={"HX-Request": "true"})
    page = response.content.decode()
    assert 'name="targets-2-model"' in page and 'hx-swap-oob="true"' in page and 'value="3"' in page


@pytest.mark.django_db
def test_it_offers_try_it_without_putting_a_key_in_the_page(admin_client, tenant_a):
    route = make_route(tenant_a, "tryable")
    page = admin_client.get(reverse("console:route_detail", args=[route.pk])).content.decode()
    assert 'id="try-form"' in page and 'data-route="tryable"' in page and "sy-" not in page.replace('"sy-..."', "")
