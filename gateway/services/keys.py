"""API key lifecycle: create (secret shown once), rotate, revoke, authenticate."""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from gateway import keyhash
from gateway.models import ApiKey
from gateway.models.audit import AuditEvent


def key_create(*, tenant, name, owner=None, team=None, routes=(), limits=None, expires_at=None, secret=None):
    """Create a key; returns (key, secret). The secret is not recoverable afterwards."""
    secret = secret or keyhash.generate_secret()
    key = ApiKey(tenant=tenant, name=name, owner=owner, team=team, limits=limits or {}, expires_at=expires_at)
    key.set_secret(secret)
    with transaction.atomic():
        key.save()
        if routes:
            key.routes.set(routes)
    return key, secret


def key_revoke(key, *, at=None):
    if key.revoked_at is not None:
        return key
    key.revoked_at = at or timezone.now()
    key._audit_action = AuditEvent.Action.REVOKE
    key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def key_rotate(key, *, grace_seconds=0):
    """A new secret under the same name and settings; the old one stops now or after a grace period."""
    old = ApiKey.objects.select_for_update().get(pk=key.pk)
    routes = list(old.routes.all())
    if grace_seconds > 0:
        # The old key keeps working until the grace period ends, then expires.
        ends = timezone.now() + timedelta(seconds=grace_seconds)
        old.expires_at = min(old.expires_at, ends) if old.expires_at else ends
    else:
        old.revoked_at = timezone.now()
    old._audit_action = AuditEvent.Action.ROTATE
    # Free the live name for the successor.
    old.name = f"{old.name} (rotated {timezone.now():%Y-%m-%d %H:%M:%S})"[:100]
    old.save(update_fields=["expires_at", "revoked_at", "name"])
    new, secret = key_create(
        tenant=old.tenant,
        name=key.name,
        owner=old.owner,
        team=old.team,
        routes=routes,
        limits=old.limits,
        expires_at=key.expires_at,
    )
    # Bookkeeping link only: the rotation itself is already in the audit log.
    ApiKey.objects.filter(pk=old.pk).update(replaced_by=new)
    return new, secret


def key_authenticate(secret):
    """The usable key this secret belongs to, or None."""
    return ApiKey.objects.for_secret(secret)
