"""Who may open a portal page: a signed-in member of a tenant.

The console's decorator does the work (tenant context, roles per method); the portal only puts its own
sign-in page and its own "you are in no tenant yet" page in front of it. The tenant chosen in the console
is the one shown in the portal, and vice versa.
"""
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse_lazy

from gateway.console.tenancy import console_view
from gateway.models import Membership

LOGIN_URL = reverse_lazy("portal:login")


def in_a_tenant(user):
    return user.is_superuser or Membership.objects.filter(user=user).exists()


def portal_view(read=None, write=None):
    """`read`/`write`: the roles allowed per method, as for console_view (None: every member)."""

    def decorator(view):
        guarded = console_view(read=read, write=write)(view)

        @login_required(login_url=LOGIN_URL)
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not in_a_tenant(request.user):
                return redirect("portal:home")
            return guarded(request, *args, **kwargs)

        return wrapper

    return decorator
