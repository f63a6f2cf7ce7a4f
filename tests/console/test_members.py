"""Members, teams and the tenant: add by e-mail, only owners grant owner."""
import pytest
from django.urls import reverse

from gateway.models import Membership, Role, Team
from tests.conftest import make_member
from tests.console.conftest import signed_in


@pytest.mark.django_db
def test_it_adds_a_member_by_email(admin_client, tenant_a):
    response = admin_client.post(reverse("console:member_create"), {"email": "New@A.test", "role": "developer"})
    assert response.status_code == 302
    assert Membership.objects.get(tenant=tenant_a, user__email="new@a.test").role == Role.DEVELOPER


@pytest.mark.django_db
def test_it_lets_only_owners_grant_owner(admin_client, tenant_a):
    response = admin_client.post(reverse("console:member_create"), {"email": "x@a.test", "role": "owner"})
    assert response.status_code == 400  # the choice is not offered to admins
    owner = make_member(tenant_a, "owner@a.test", Role.OWNER)
    response = signed_in(owner).post(reverse("console:member_create"), {"email": "x@a.test", "role": "owner"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_it_keeps_admins_from_demoting_an_owner(admin_client, tenant_a):
    owner = make_member(tenant_a, "owner@a.test", Role.OWNER)
    membership = Membership.objects.get(user=owner)
    url = reverse("console:member_edit", args=[membership.pk])
    assert admin_client.post(url, {"role": "viewer"}).status_code == 403
    assert admin_client.post(reverse("console:member_delete", args=[membership.pk])).status_code == 403
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


@pytest.mark.django_db
def test_it_edits_the_tenant_time_zone(admin_client, tenant_a):
    response = admin_client.post(reverse("console:tenant"), {"name": "A!", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert admin_client.post(reverse("console:tenant"), {"name": "A!", "time_zone": "Europe/Paris"}).status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.time_zone) == ("A!", "Europe/Paris")


@pytest.mark.django_db
def test_it_creates_a_team_with_limits(admin_client, tenant_a):
    response = admin_client.post(reverse("console:team_create"), {"name": "ml", "limits_tpm": "1000"})
    assert response.status_code == 302
    assert Team.objects.get(tenant=tenant_a, name="ml").limits == {"tpm": 1000}
