"""Which tenants a caller may see, and with which role; which API keys in them."""
from django.db.models import Q

from gateway.models import Membership, Role

ROLE_ORDER = [Role.VIEWER, Role.DEVELOPER, Role.FINANCE, Role.ADMIN, Role.OWNER]
# Roles that read every key of their tenant: admins manage them, finance budgets and reports by key.
# Developers and viewers read only the keys they own (README: "developer (own keys only)").
KEY_READERS = (Role.OWNER, Role.ADMIN, Role.FINANCE)


def keys_visible_to(queryset, role, user):
    """One tenant's keys as `role` may read them: all of them for KEY_READERS, else `user`'s own."""
    return queryset if role in KEY_READERS else queryset.filter(owner=user)


class Access:
    """A caller's roles per tenant. Superusers hold every role everywhere.

    A request authenticated with an API key is confined to that key's tenant.
    """

    def __init__(self, user, only_tenant_id=None):
        self.user = user
        self.is_superuser = bool(user and user.is_authenticated and user.is_superuser)
        self.only_tenant_id = only_tenant_id
        rows = Membership.objects.filter(user=user).values_list("tenant_id", "role") if user else []
        self.roles = {tid: role for tid, role in rows if only_tenant_id in (None, tid)}

    def tenant_filter(self, field="tenant_id"):
        """Kwargs restricting a queryset to visible tenants, or None for no restriction."""
        if self.is_superuser and self.only_tenant_id is None:
            return None
        ids = [self.only_tenant_id] if self.is_superuser else list(self.roles)
        return {f"{field}__in": ids}

    def role(self, tenant_id):
        if self.is_superuser and self.only_tenant_id in (None, tenant_id):
            return Role.OWNER
        return self.roles.get(tenant_id)

    def has_role(self, tenant_id, roles):
        return self.role(tenant_id) in roles

    def any_role(self, roles):
        return self.is_superuser or any(role in roles for role in self.roles.values())

    def key_filter(self):
        """A Q restricting ApiKeys to those this caller may read, or None for no restriction."""
        if self.is_superuser:
            return None if self.only_tenant_id is None else Q(tenant_id=self.only_tenant_id)
        every_key = [tid for tid, role in self.roles.items() if role in KEY_READERS]
        own_only = [tid for tid, role in self.roles.items() if role not in KEY_READERS]
        return Q(tenant_id__in=every_key) | Q(tenant_id__in=own_only, owner_id=self.user.pk)
