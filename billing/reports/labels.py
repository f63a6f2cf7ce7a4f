"""Human labels for dimension values (team names, key names, user e-mails)."""
from __future__ import annotations

from gateway.models import ApiKey, Team, User

NONE_LABEL = {"team": "(no team)", "key": "(no key)", "user": "(no user)"}


def _names(dimension: str, ids, tenant_ids) -> dict:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    if dimension == "team":
        return dict(Team.objects.filter(id__in=ids, tenant_id__in=tenant_ids).values_list("id", "name"))
    if dimension == "key":
        return dict(ApiKey.objects.filter(id__in=ids, tenant_id__in=tenant_ids).values_list("id", "name"))
    # Only members of the tenants at hand: an id never resolves to a stranger's e-mail.
    users = User.objects.filter(id__in=ids, memberships__tenant_id__in=tenant_ids).distinct()
    return dict(users.values_list("id", "email"))


def labeler(dimension: str, values, tenants):
    """A function value -> label for one dimension, built with one query."""
    if dimension == "tenant":
        by_id = {tenant.pk: tenant.name for tenant in tenants}
        return lambda value: by_id.get(value, str(value))
    if dimension in NONE_LABEL:
        names = _names(dimension, set(values), [tenant.pk for tenant in tenants])
        missing = NONE_LABEL[dimension]
        # A deleted object (or a member who left) keeps its id in the ledger: say so rather than guess.
        return lambda value: missing if value is None else names.get(value, f"#{value} (removed)")
    return lambda value: value or "(none)"
