"""Sign-in, invitation sign-up (single use, expiring) and open sign-up (off by default)."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gateway.models import Membership, Role, User
from portal.models import Invitation
from portal.services import invitation_accept, invitation_create
from tests.console.conftest import row_counts, signed_in

PASSWORD = "Correct-horse-battery-42"
FORM = {"password1": PASSWORD, "password2": PASSWORD}


def _link(token):
    return reverse("portal:signup_invited", args=[token])


@pytest.mark.django_db
def test_it_signs_in_to_the_portal(dev_a):
    response = Client().post(reverse("portal:login"), {"username": "dev@a.test", "password": "pw-dev@a.test"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")


@pytest.mark.django_db
def test_it_signs_up_by_invitation_once(tenant_a):
    invitation, token = invitation_create(tenant=tenant_a, email="New@A.test")
    page = Client().get(_link(token))
    assert page.status_code == 200 and b"new@a.test" in page.content
    client = Client()
    response = client.post(_link(token), FORM)
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    user = User.objects.get(email="new@a.test")
    assert Membership.objects.get(user=user, tenant=tenant_a).role == Role.DEVELOPER
    assert client.get(reverse("portal:keys")).status_code == 200  # signed in
    invitation.refresh_from_db()
    assert invitation.used_by == user and invitation.used_at is not None

    before = row_counts()
    again = Client().post(_link(token), {**FORM})
    assert again.status_code == 404 and b"not valid" in again.content
    assert row_counts() == before


@pytest.mark.django_db
def test_it_refuses_an_expired_invitation(tenant_a):
    invitation, token = invitation_create(tenant=tenant_a, email="late@a.test")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = row_counts()
    assert Client().get(_link(token)).status_code == 404
    assert Client().post(_link(token), FORM).status_code == 404
    with pytest.raises(ValidationError):
        invitation_accept(token, password=PASSWORD)
    assert row_counts() == before
    assert not User.objects.filter(email="late@a.test").exists()


@pytest.mark.django_db
def test_it_refuses_an_unknown_token():
    assert Client().get(_link("not-a-token")).status_code == 404


@pytest.mark.django_db
def test_it_lets_a_signed_in_user_accept_an_invitation_to_another_tenant(tenant_b, dev_a):
    _invitation, token = invitation_create(tenant=tenant_b, email="dev@a.test")
    response = signed_in(dev_a).post(_link(token))
    assert response.status_code == 302
    assert Membership.objects.get(user=dev_a, tenant=tenant_b).role == Role.DEVELOPER


@pytest.mark.django_db
def test_it_lets_an_admin_create_an_invitation_link_shown_once(tenant_a, admin_a):
    response = signed_in(admin_a).post(reverse("portal:invitations"), {"email": "friend@a.test", "days": 3})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    link = response.content.decode().split('id="invitation-link" type="text" readonly value="')[1].split('"')[0]
    assert "/portal/signup/" in link
    listing = signed_in(admin_a).get(reverse("portal:invitations")).content.decode()
    assert "friend@a.test" in listing and link not in listing
    assert Client().post(link.split("testserver", 1)[1], FORM).status_code == 302


@pytest.mark.django_db
def test_it_revokes_an_open_invitation(tenant_a, admin_a):
    invitation, token = invitation_create(tenant=tenant_a, email="gone@a.test")
    assert signed_in(admin_a).post(reverse("portal:invitation_revoke", args=[invitation.pk])).status_code == 302
    assert Client().get(_link(token)).status_code == 404


def test_it_keeps_open_signup_off_by_default():
    assert settings.PORTAL_OPEN_SIGNUP is False


@pytest.mark.django_db
def test_it_refuses_open_signup_when_off(tenant_a):
    before = row_counts()
    assert Client().get(reverse("portal:signup")).status_code == 404
    assert Client().post(reverse("portal:signup"), {"email": "x@a.test", **FORM}).status_code == 404
    assert row_counts() == before


@pytest.mark.django_db
def test_it_signs_up_openly_into_the_signup_tenant_when_on(tenant_a, settings):
    settings.PORTAL_OPEN_SIGNUP, settings.PORTAL_SIGNUP_TENANT = True, tenant_a.slug
    assert Client().get(reverse("portal:signup")).status_code == 200
    response = Client().post(reverse("portal:signup"), {"email": "open@a.test", **FORM})
    assert response.status_code == 302
    assert Membership.objects.get(user__email="open@a.test", tenant=tenant_a).role == Role.DEVELOPER
    dup = Client().post(reverse("portal:signup"), {"email": "open@a.test", **FORM})
    assert dup.status_code == 400


@pytest.mark.django_db
def test_it_rejects_a_weak_password(tenant_a):
    _invitation, token = invitation_create(tenant=tenant_a, email="weak@a.test")
    assert Client().post(_link(token), {"password1": "123", "password2": "123"}).status_code == 400
    assert not User.objects.filter(email="weak@a.test").exists()
