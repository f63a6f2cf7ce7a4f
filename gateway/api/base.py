"""The base of every admin API viewset: tenant scoping (404) and role checks (403)."""
from django.db import IntegrityError, transaction
from django.db.models import Q
from rest_framework import exceptions, permissions, viewsets

from gateway.api.permissions import TenantRolePermission, access_for
from gateway.audit_context import set_actor
from gateway.models import Role

ADMINS = (Role.OWNER, Role.ADMIN)
DUPLICATE = "an object with these values already exists"


class TenantScopedViewSet(viewsets.ModelViewSet):
    """Objects outside the caller's tenants do not exist for it (404).

    `tenant_field` names the lookup to the owning tenant; `allow_global` shows
    rows whose tenant is null (shared objects) to every member, writable only
    by platform superusers.
    """

    permission_classes = [permissions.IsAuthenticated, TenantRolePermission]
    write_roles = ADMINS
    tenant_field = "tenant_id"
    allow_global = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # After DRF authenticated the caller: the audit log names who acted, and with which key.
        key = request.auth if hasattr(request.auth, "prefix") else None
        set_actor(request.user, f"{request.user.email} (key {key.prefix}…)" if key else None)

    def get_queryset(self):
        queryset = super().get_queryset()
        scope = access_for(self.request).tenant_filter(self.tenant_field)
        if scope is None:
            return queryset
        condition = Q(**scope)
        if self.allow_global:
            condition |= Q(**{self.tenant_field.removesuffix("_id") + "__isnull": True})
        return queryset.filter(condition)

    def write_roles_for(self, request):
        return self.write_roles

    def object_tenant_id(self, obj):
        return obj.tenant_id

    def may_write(self, request, obj):
        access = access_for(request)
        tenant_id = self.object_tenant_id(obj)
        if tenant_id is None:
            return access.is_superuser and access.only_tenant_id is None
        return access.has_role(tenant_id, self.write_roles_for(request))

    def check_create_allowed(self, serializer):
        tenant = serializer.validated_data.get("tenant")
        access = access_for(self.request)
        if tenant is None:
            allowed = access.is_superuser and access.only_tenant_id is None
        else:
            allowed = access.has_role(tenant.pk, self.write_roles_for(self.request))
        if not allowed:
            raise exceptions.PermissionDenied(TenantRolePermission.message)

    def perform_create(self, serializer):
        self.check_create_allowed(serializer)
        self.save_cleanly(serializer)

    def perform_update(self, serializer):
        self.save_cleanly(serializer)

    def save_cleanly(self, serializer, **kwargs):
        """Uniqueness races and constraint violations become a 400, not a 500."""
        try:
            with transaction.atomic():
                return serializer.save(**kwargs)
        except IntegrityError:
            raise exceptions.ValidationError({"non_field_errors": [DUPLICATE]}) from None
