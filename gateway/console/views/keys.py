"""API keys: list, create (the secret is shown once), rotate with a grace period, revoke."""
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from gateway.console.forms import KeyForm
from gateway.console.htmx import render_page
from gateway.console.tenancy import KEY_WRITERS, console_view
from gateway.console.views.base import form_page, own, redirect_after_write, rotate_key_page, secret_page, try_save
from gateway.models import ApiKey, Role
from gateway.selectors.access import keys_visible_to
from gateway.services.keys import key_create, key_revoke


def _secret_page(request, key, secret, headline):
    return secret_page(request, "console/key_secret.html", {"key": key, "secret": secret, "headline": headline})


def _manageable(request, queryset):
    """Developers manage only their own keys; owners and admins manage every key of the tenant."""
    if request.console.role == Role.DEVELOPER:
        return queryset.filter(owner=request.user)
    return queryset


@require_safe
@console_view()
def key_list(request):
    tenant_keys = ApiKey.objects.filter(tenant=request.console.tenant)
    keys = (keys_visible_to(tenant_keys, request.console.role, request.user).select_related("team", "owner")
            .prefetch_related("routes").order_by("revoked_at", "name", "id"))
    return render_page(request, "console/keys.html", "htmx/key_rows.html", {"keys": keys})


@console_view(read=KEY_WRITERS, write=KEY_WRITERS)
def key_new(request):
    tenant = request.console.tenant
    form = KeyForm(request.POST or None, tenant=tenant)
    created = {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data

        def save():
            created["key"], created["secret"] = key_create(
                tenant=tenant, name=data["name"], owner=request.user, team=data["team"], routes=data["routes"],
                expires_at=data["expires_at"])

        if try_save(form, save):
            return _secret_page(request, created["key"], created["secret"], "Key created")
    return form_page(request, "console/key_form.html", {"form": form})


@console_view(read=KEY_WRITERS, write=KEY_WRITERS)
def key_rotate_view(request, pk):
    key = own(request, _manageable(request, ApiKey.objects.filter(revoked_at__isnull=True)), pk)
    return rotate_key_page(request, key, "console/key_rotate.html", _secret_page)


@require_POST
@console_view(write=KEY_WRITERS)
def key_revoke_view(request, pk):
    key = own(request, _manageable(request, ApiKey.objects), pk)
    key_revoke(key)
    return redirect_after_write(request, reverse("console:keys"), f"Key {key.name} revoked.")
