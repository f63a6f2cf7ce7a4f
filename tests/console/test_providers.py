"""Providers in the console: the API key is write-only; "test connection" never shows it."""
import pytest
from django.urls import reverse

from gateway.models import Provider
from tests.factories import make_provider

SECRET = "sk-console-canary-1234567890"


def _post(client, url, **fields):
    data = {"name": "openai-main", "kind": "openai", "base_url": "https://api.openai.com/v1", "enabled": "on"}
    return client.post(url, {**data, **fields})


@pytest.mark.django_db
def test_it_creates_a_provider_with_a_write_only_key(admin_client, tenant_a):
    response = _post(admin_client, reverse("console:provider_create"), api_key=SECRET)
    assert response.status_code == 302
    provider = Provider.objects.get(tenant=tenant_a, name="openai-main")
    assert provider.api_key == SECRET
    for url in (reverse("console:provider_edit", args=[provider.pk]), reverse("console:providers")):
        assert SECRET not in admin_client.get(url).content.decode()


@pytest.mark.django_db
def test_it_keeps_the_stored_key_when_the_field_is_empty(admin_client, tenant_a):
    provider = make_provider(tenant_a, "kept")
    response = _post(admin_client, reverse("console:provider_edit", args=[provider.pk]), name="kept", api_key="")
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.api_key == "sk-canary-provider" and provider.kind == "openai"


@pytest.mark.django_db
def test_it_reports_form_errors_with_400(admin_client, tenant_a):
    make_provider(tenant_a, "taken")
    response = _post(admin_client, reverse("console:provider_create"), name="taken", base_url="ftp://x")
    assert response.status_code == 400
    page = response.content.decode()
    assert "already used" in page and "http:// or https://" in page


@pytest.mark.django_db
def test_it_tests_the_mock_provider(admin_client, tenant_a):
    provider = make_provider(tenant_a, "mocked")
    response = admin_client.post(reverse("console:provider_test", args=[provider.pk]))
    assert response.status_code == 200 and "OK" in response.content.decode()


@pytest.mark.django_db
def test_it_refuses_to_test_a_private_address(admin_client, tenant_a, settings):
    settings.SSRF_ALLOW_PRIVATE, settings.SSRF_ALLOW_CIDRS = False, []  # embedded mode allows loopback
    provider = Provider.objects.create(tenant=tenant_a, name="local", kind="openai", base_url="http://127.0.0.1:9/v1",
                                       api_key=SECRET)
    response = admin_client.post(reverse("console:provider_test", args=[provider.pk]))
    page = response.content.decode()
    assert "Failed" in page and "private" in page and SECRET not in page


@pytest.mark.django_db
def test_it_refuses_to_delete_a_provider_a_route_uses(admin_client, tenant_a):
    from tests.factories import make_route

    route = make_route(tenant_a, "uses")
    provider = route.targets.get().provider
    assert admin_client.post(reverse("console:provider_delete", args=[provider.pk])).status_code == 409
    assert Provider.objects.filter(pk=provider.pk).exists()
