"""Role checks for the admin API. Scoping (404) is done by querysets; this is the 403."""
from rest_framework import permissions

from gateway.selectors.access import Access


def access_for(request):
    if not hasattr(request, "_sy_access"):
        key = request.auth if hasattr(request.auth, "tenant_id") else None
        request._sy_access = Access(request.user, only_tenant_id=key.tenant_id if key else None)
    return request._sy_access


class TenantRolePermission(permissions.BasePermission):
    """Reads: any member. Writes: a role in the view's `write_roles` for the object's tenant."""

    message = "your role in this tenant does not allow this action"

    def has_permission(self, request, view):
        # Detail routes are decided per object, after the scoped lookup (404 first).
        if request.method in permissions.SAFE_METHODS or view.detail:
            return True
        return access_for(request).any_role(view.write_roles_for(request))

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return view.may_write(request, obj)
