"""Memberships: add people to tenants by e-mail."""
from django.contrib.auth import get_user_model
from django.db import transaction

from gateway.models import Membership


@transaction.atomic
def membership_upsert(*, tenant, email, role, team=None, password=None):
    """Add (or update) a member; an unknown e-mail becomes a user who sets a password later."""
    User = get_user_model()
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    elif password and not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, created = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": role, "team": team}
    )
    if not created and (membership.role != role or membership.team_id != (team.pk if team else None)):
        membership.role, membership.team = role, team
        membership.save()
    return membership
