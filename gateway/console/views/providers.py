"""Providers: list, create, edit (the API key is write-only), delete, test connection."""
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from gateway.console import provider_check
from gateway.console.forms import ProviderForm
from gateway.console.htmx import render_page
from gateway.console.tenancy import ADMINS, console_view
from gateway.console.views.base import delete_or_dependants, form_page, own, redirect_after_write, try_save, visible
from gateway.models import Provider


@require_safe
@console_view()
def provider_list(request):
    providers = visible(request, Provider.objects.select_related("tenant")).order_by("tenant_id", "name")
    return render_page(request, "console/providers.html", "htmx/provider_rows.html", {"providers": providers})


@console_view(read=ADMINS, write=ADMINS)
def provider_create(request):
    return _edit(request, Provider())


@console_view(read=ADMINS, write=ADMINS)
def provider_edit(request, pk):
    return _edit(request, own(request, Provider.objects, pk))


def _edit(request, provider):
    form = ProviderForm(request.POST or None, instance=provider, tenant=request.console.tenant)
    if request.method == "POST" and form.is_valid() and try_save(form, form.save):
        return redirect_after_write(request, reverse("console:providers"), f"Provider {provider.name} saved.")
    return form_page(request, "console/provider_form.html", {"form": form, "provider": provider})


@require_POST
@console_view(write=ADMINS)
def provider_delete(request, pk):
    provider = own(request, Provider.objects, pk)
    return delete_or_dependants(request, provider, f"Provider {provider.name}", reverse("console:providers"))


@require_POST
@console_view(write=ADMINS)
def provider_test(request, pk):
    provider = own(request, Provider.objects, pk)
    ok, detail = provider_check.check(provider)
    response = render(request, "htmx/provider_test.html", {"ok": ok, "detail": detail, "provider": provider})
    patch_vary_headers(response, ["HX-Request"])
    return response
