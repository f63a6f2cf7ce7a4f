"""Portal writes: invitations and sign-up (HackSoft style: `<entity>_<action>`, the views stay thin)."""
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from gateway.models import Membership, Role, Tenant, User
from portal.models import Invitation, token_hash

# An invitation link stays valid a week unless the admin says otherwise: long enough for a mailbox
# round trip, short enough that a forgotten link does not stay a way in for long.
INVITATION_DAYS = 7
# 32 random bytes: the same strength as an API key secret.
TOKEN_BYTES = 32


def invitation_create(*, tenant, email, created_by=None, days=INVITATION_DAYS, role=Role.DEVELOPER):
    """A new invitation; returns (invitation, token). Only the token's hash is stored."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = Invitation.objects.create(
        tenant=tenant, email=email.strip().lower(), role=role, token_hash=token_hash(token),
        created_by=created_by, expires_at=timezone.now() + timedelta(days=days))
    return invitation, token


def invitation_for_token(token):
    """The open invitation this token belongs to, or None (used, expired or unknown all look alike)."""
    return Invitation.objects.open().select_related("tenant").filter(token_hash=token_hash(token)).first()


def _join(tenant, user, role):
    membership, _created = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def invitation_accept(token, *, password=None, user=None):
    """Use an invitation once: create the account (or take the signed-in one) and add its membership.

    The row is locked, so two concurrent submissions of one link cannot both succeed.
    """
    invitation = Invitation.objects.select_for_update().filter(token_hash=token_hash(token)).first()
    if invitation is None or not invitation.is_open:
        raise ValidationError("This invitation link is not valid: it was used, it expired, or it never existed.")
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError("An account with this e-mail exists: sign in first, then open the link again.")
        user = User.objects.create_user(email=invitation.email, password=password)
    elif user.email.lower() != invitation.email:
        raise ValidationError("This invitation is for another e-mail address.")
    _join(invitation.tenant, user, invitation.role)
    invitation.used_at, invitation.used_by = timezone.now(), user
    invitation.save(update_fields=["used_at", "used_by"])
    return user


def signup_tenant():
    """The tenant open sign-up joins, or None when open sign-up is off or the tenant does not exist."""
    if not settings.PORTAL_OPEN_SIGNUP:
        return None
    return Tenant.objects.filter(slug=settings.PORTAL_SIGNUP_TENANT).first()


@transaction.atomic
def user_signup(*, email, password):
    """Open sign-up: a new account with the developer role in PORTAL_SIGNUP_TENANT."""
    tenant = signup_tenant()
    if tenant is None:
        raise ValidationError("Sign-up is closed.")
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError("An account with this e-mail exists: sign in instead.")
    user = User.objects.create_user(email=email.strip().lower(), password=password)
    _join(tenant, user, Role.DEVELOPER)
    return user
