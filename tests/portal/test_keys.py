"""My keys: the secret is shown once and authenticates; rotation keeps the old one for the grace period."""
import re

import pytest
from django.urls import reverse

from gateway.models import ApiKey
from gateway.services.keys import key_authenticate
from tests.console.conftest import signed_in
from tests.factories import make_key, make_route


def _secret(response):
    return re.search(r'id="key-secret" type="text" readonly value="([^"]+)"', response.content.decode()).group(1)


@pytest.mark.django_db
def test_it_creates_a_key_and_shows_the_secret_once(tenant_a, dev_a):
    route = make_route(tenant_a, "chat")
    client = signed_in(dev_a)
    response = client.post(reverse("portal:key_create"), {"name": "laptop", "routes": [route.pk],
                                                          "expires_at": "2099-01-01T00:00"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = _secret(response)
    key = key_authenticate(secret)
    assert key is not None and key.owner == dev_a and key.tenant == tenant_a
    assert list(key.routes.all()) == [route] and key.expires_at.year == 2099
    listing = client.get(reverse("portal:keys")).content.decode()
    assert "laptop" in listing and secret not in listing


@pytest.mark.django_db
def test_it_refuses_another_tenants_route(tenant_a, tenant_b, dev_a):
    foreign = make_route(tenant_b, "theirs")
    response = signed_in(dev_a).post(reverse("portal:key_create"), {"name": "k", "routes": [foreign.pk]})
    assert response.status_code == 400 and not ApiKey.objects.exists()


@pytest.mark.django_db
def test_it_lists_only_my_keys(tenant_a, dev_a, dev_a2):
    make_key(tenant_a, "mine", owner=dev_a)
    make_key(tenant_a, "theirs", owner=dev_a2)
    body = signed_in(dev_a).get(reverse("portal:keys")).content.decode()
    assert "mine" in body and "theirs" not in body


@pytest.mark.django_db
def test_it_rotates_with_a_grace_period(tenant_a, dev_a):
    client = signed_in(dev_a)
    old_secret = _secret(client.post(reverse("portal:key_create"), {"name": "svc"}))
    old = key_authenticate(old_secret)
    response = client.post(reverse("portal:key_rotate", args=[old.pk]), {"grace_seconds": 3600})
    new = key_authenticate(_secret(response))
    assert new is not None and new.pk != old.pk and new.name == "svc"
    assert key_authenticate(old_secret) is not None  # still inside the grace period


@pytest.mark.django_db
def test_it_revokes_my_key(tenant_a, dev_a):
    client = signed_in(dev_a)
    secret = _secret(client.post(reverse("portal:key_create"), {"name": "tmp"}))
    key = key_authenticate(secret)
    assert client.post(reverse("portal:key_revoke", args=[key.pk])).status_code == 302
    assert key_authenticate(secret) is None
