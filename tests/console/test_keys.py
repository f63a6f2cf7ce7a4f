"""Keys in the console: the secret is shown once, rotation keeps a grace period, revocation sticks."""
import re

import pytest
from django.urls import reverse

from gateway.models import ApiKey
from tests.factories import make_key, make_route

SECRET_RE = re.compile(r'id="key-secret"[^>]*value="(sy-[^"]+)"')


@pytest.mark.django_db
def test_it_creates_a_key_and_shows_the_secret_once(admin_client, tenant_a, admin_a):
    route = make_route(tenant_a, "allowed")
    response = admin_client.post(reverse("console:key_create"), {"name": "app", "routes": [route.pk]})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = SECRET_RE.search(response.content.decode()).group(1)
    key = ApiKey.objects.for_secret(secret)
    assert key.name == "app" and key.owner == admin_a and list(key.routes.all()) == [route]
    for url in (reverse("console:keys"), reverse("console:key_rotate", args=[key.pk])):
        assert secret not in admin_client.get(url).content.decode()


@pytest.mark.django_db
def test_it_refuses_a_duplicate_live_name(admin_client, tenant_a):
    make_key(tenant_a, "dup")
    assert admin_client.post(reverse("console:key_create"), {"name": "dup"}).status_code == 400


@pytest.mark.django_db
def test_it_rotates_with_a_grace_period(admin_client, tenant_a):
    old = make_key(tenant_a, "rot")
    response = admin_client.post(reverse("console:key_rotate", args=[old.pk]), {"grace_seconds": "3600"})
    secret = SECRET_RE.search(response.content.decode()).group(1)
    old.refresh_from_db()
    assert old.revoked_at is None and old.expires_at is not None and old.is_usable
    assert ApiKey.objects.for_secret(secret).name == "rot"


@pytest.mark.django_db
def test_it_limits_the_grace_period(admin_client, tenant_a):
    old = make_key(tenant_a, "rot")
    response = admin_client.post(reverse("console:key_rotate", args=[old.pk]), {"grace_seconds": str(31 * 86400)})
    assert response.status_code == 400


@pytest.mark.django_db
def test_it_revokes_a_key(admin_client, tenant_a):
    key = make_key(tenant_a, "bye")
    assert admin_client.post(reverse("console:key_revoke", args=[key.pk])).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


@pytest.mark.django_db
def test_it_lets_developers_manage_only_their_own_keys(tenant_a, admin_a):
    from gateway.models import Role
    from tests.conftest import make_member
    from tests.console.conftest import signed_in

    dev = make_member(tenant_a, "dev@a.test", Role.DEVELOPER)
    theirs, mine = make_key(tenant_a, "admins", owner=admin_a), make_key(tenant_a, "mine", owner=dev)
    client = signed_in(dev)
    assert client.post(reverse("console:key_revoke", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("console:key_revoke", args=[mine.pk])).status_code == 302
