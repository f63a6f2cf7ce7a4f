"""The console's current tenant (kept in the session) and the caller's role in it.

Every console query is scoped to `request.console.tenant`; objects of other
tenants are simply not in the querysets, so they answer 404, never 403.
"""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from gateway.models import Membership, Role, Tenant

SESSION_KEY = "console_tenant_id"
ADMINS = (Role.OWNER, Role.ADMIN)
KEY_WRITERS = (Role.OWNER, Role.ADMIN, Role.DEVELOPER)
MONEY_WRITERS = (Role.OWNER, Role.ADMIN, Role.FINANCE)
AUDIT_READERS = (Role.OWNER, Role.ADMIN, Role.FINANCE)


class ConsoleContext:
    def __init__(self, user, tenants, tenant, role):
        self.user, self.tenants, self.tenant, self.role = user, tenants, tenant, role

    def can(self, roles):
        return self.role in roles

    def require(self, roles):
        if not self.can(roles):
            raise PermissionDenied("your role in this tenant does not allow this action")


def tenants_for(user):
    """[(tenant, role)] the user may switch between; superusers are owners everywhere."""
    if user.is_superuser:
        return [(t, Role.OWNER) for t in Tenant.objects.order_by("slug")]
    rows = Membership.objects.filter(user=user).select_related("tenant").order_by("tenant__slug")
    return [(m.tenant, m.role) for m in rows]


def build_context(request):
    tenants = tenants_for(request.user)
    chosen = request.session.get(SESSION_KEY)
    current = next(((t, r) for t, r in tenants if t.pk == chosen), tenants[0] if tenants else (None, None))
    return ConsoleContext(request.user, tenants, *current)


def console_view(read=None, write=None):
    """Sign-in required, a current tenant required; `read`/`write` are the roles allowed per method.

    read=None: every member may read. Unsafe methods need a role in `write`.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            request.console = build_context(request)
            if request.console.tenant is None:
                return redirect("console:home")
            if read is not None:
                request.console.require(read)
            if request.method not in ("GET", "HEAD", "OPTIONS") and write is not None:
                request.console.require(write)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
