"""Routes: list, create/edit with their targets (an htmx "add target" row) and fallbacks, delete, try it."""
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe

from gateway.console.forms import RouteForm, TargetFormSet
from gateway.console.htmx import render_page
from gateway.console.tenancy import ADMINS, console_view
from gateway.console.views.base import delete_or_dependants, form_page, own, redirect_after_write, try_save, visible
from gateway.models import Route, RouteFallback, RouteTarget
from gateway.services.routes import route_save

TARGET_PREFIX = "targets"


def _with_relations(queryset):
    return queryset.select_related("tenant").prefetch_related(
        Prefetch("targets", queryset=RouteTarget.objects.select_related("provider")),
        Prefetch("fallback_links", queryset=RouteFallback.objects.select_related("fallback")),
    )


@require_safe
@console_view()
def route_list(request):
    routes = _with_relations(visible(request, Route.objects)).order_by("tenant_id", "name")
    return render_page(request, "console/routes.html", "htmx/route_rows.html", {"routes": routes})


@require_safe
@console_view()
def route_detail(request, pk):
    route = get_object_or_404(_with_relations(visible(request, Route.objects)), pk=pk)
    return render_page(request, "console/route_detail.html", None, {"route": route})


@console_view(read=ADMINS, write=ADMINS)
def route_create(request):
    return _edit(request, Route())


@console_view(read=ADMINS, write=ADMINS)
def route_edit(request, pk):
    return _edit(request, own(request, _with_relations(Route.objects), pk))


def _initial_targets(route):
    if not route.pk:
        return [{"weight": 1}]
    return [{"provider": t.provider_id, "model": t.model, "weight": t.weight} for t in route.targets.all()]


def _edit(request, route):
    tenant = request.console.tenant
    data = request.POST or None
    form = RouteForm(data, instance=route, tenant=tenant)
    targets = TargetFormSet(data, prefix=TARGET_PREFIX, initial=None if data else _initial_targets(route),
                            form_kwargs={"tenant": tenant})
    if request.method == "POST" and form.is_valid() and targets.is_valid():
        chosen = [(f.cleaned_data["provider"], f.cleaned_data["model"], f.cleaned_data["weight"])
                  for f in targets.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        fallbacks = list(form.cleaned_data["fallbacks"])
        if try_save(form, lambda: route_save(form.instance, targets=chosen, fallbacks=fallbacks)):
            return redirect_after_write(request, reverse("console:routes"), f"Route {route.name} saved.")
    return form_page(request, "console/route_form.html", {"form": form, "targets": targets, "route": route})


@require_safe
@console_view(read=ADMINS)
def route_target_row(request):
    """One more empty target row; the management form's TOTAL_FORMS is swapped out of band."""
    try:
        index = int(request.GET.get(f"{TARGET_PREFIX}-TOTAL_FORMS", "0"))
    except ValueError:
        index = 0
    # formset max_num is 50: refuse to grow past it
    index = max(0, min(index, 49))
    formset = TargetFormSet(prefix=TARGET_PREFIX, form_kwargs={"tenant": request.console.tenant})
    form = formset.form(prefix=f"{TARGET_PREFIX}-{index}", tenant=request.console.tenant,
                        initial={"weight": 1}, empty_permitted=True, use_required_attribute=False)
    response = render(request, "htmx/route_target_row.html",
                      {"f": form, "index": index, "total": index + 1, "prefix": TARGET_PREFIX})
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_POST
@console_view(write=ADMINS)
def route_delete(request, pk):
    route = own(request, Route.objects, pk)
    return delete_or_dependants(request, route, f"Route {route.name}", reverse("console:routes"))
