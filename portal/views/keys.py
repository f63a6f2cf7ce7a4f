"""My keys: a developer's own keys in the current tenant (create with the secret shown once, rotate, revoke).

Every lookup is limited to keys the signed-in user owns in the current tenant, whatever their role:
another user's key, even an admin's colleague's, answers 404 here (the console is for managing others' keys).
"""
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from gateway.console.htmx import render_page
from gateway.console.tenancy import KEY_WRITERS
from gateway.console.views.base import form_page, own, redirect_after_write, rotate_key_page, secret_page, try_save
from gateway.models import ApiKey, Membership
from gateway.services.keys import key_create, key_revoke
from portal.access import portal_view
from portal.forms import PortalKeyForm
from portal.snippets import base_url


def my_keys(request):
    return ApiKey.objects.filter(tenant=request.console.tenant, owner=request.user)


def _secret_page(request, key, secret, headline):
    context = {"key": key, "secret": secret, "headline": headline, "base_url": base_url()}
    return secret_page(request, "portal/key_secret.html", context)


@require_safe
@portal_view()
def key_list(request):
    keys = my_keys(request).prefetch_related("routes").order_by("revoked_at", "name", "id")
    return render_page(request, "portal/keys.html", None, {"keys": keys})


@portal_view(read=KEY_WRITERS, write=KEY_WRITERS)
def key_new(request):
    tenant = request.console.tenant
    form = PortalKeyForm(request.POST or None, tenant=tenant)
    created = {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        membership = Membership.objects.filter(tenant=tenant, user=request.user).first()

        def save():
            created["key"], created["secret"] = key_create(
                tenant=tenant, name=data["name"], owner=request.user, routes=data["routes"],
                team=membership.team if membership else None, expires_at=data["expires_at"])

        if try_save(form, save):
            return _secret_page(request, created["key"], created["secret"], "Key created")
    return form_page(request, "portal/key_form.html", {"form": form})


@portal_view(read=KEY_WRITERS, write=KEY_WRITERS)
def key_rotate_view(request, pk):
    key = own(request, my_keys(request).filter(revoked_at__isnull=True), pk)
    return rotate_key_page(request, key, "portal/key_rotate.html", _secret_page)


@require_POST
@portal_view(write=KEY_WRITERS)
def key_revoke_view(request, pk):
    key = own(request, my_keys(request), pk)
    key_revoke(key)
    return redirect_after_write(request, reverse("portal:keys"), f"Key {key.name} revoked.")
