"""Budgets and price overrides (finance, admins and owners write; everyone in the tenant reads)."""
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from billing.models import Budget, PriceOverride
from billing.prices.services import price_override_delete, price_override_save
from gateway.console.forms import BudgetForm, PriceOverrideForm
from gateway.console.htmx import render_page
from gateway.console.tenancy import MONEY_WRITERS, console_view
from gateway.console.views.base import delete_or_dependants, form_page, own, redirect_after_write, try_save, visible


@require_safe
@console_view()
def budget_list(request):
    budgets = (Budget.objects.filter(tenant=request.console.tenant)
               .select_related("tenant", "team", "api_key", "user", "route", "downgrade_route"))
    return render_page(request, "console/budgets.html", None, {"budgets": budgets})


@console_view(read=MONEY_WRITERS, write=MONEY_WRITERS)
def budget_create(request):
    return _budget_edit(request, Budget())


@console_view(read=MONEY_WRITERS, write=MONEY_WRITERS)
def budget_edit(request, pk):
    return _budget_edit(request, own(request, Budget.objects, pk))


def _budget_edit(request, budget):
    form = BudgetForm(request.POST or None, instance=budget, tenant=request.console.tenant)
    if request.method == "POST" and form.is_valid() and try_save(form, form.save):
        return redirect_after_write(request, reverse("console:budgets"), "Budget saved.")
    return form_page(request, "console/budget_form.html", {"form": form, "budget": budget})


@require_POST
@console_view(write=MONEY_WRITERS)
def budget_delete(request, pk):
    return delete_or_dependants(request, own(request, Budget.objects, pk), "Budget", reverse("console:budgets"))


@require_safe
@console_view()
def price_list(request):
    prices = visible(request, PriceOverride.objects).select_related("provider", "route", "tenant")
    return render_page(request, "console/prices.html", None, {"prices": prices})


@console_view(read=MONEY_WRITERS, write=MONEY_WRITERS)
def price_create(request):
    return _price_edit(request, PriceOverride())


@console_view(read=MONEY_WRITERS, write=MONEY_WRITERS)
def price_edit(request, pk):
    return _price_edit(request, own(request, PriceOverride.objects, pk))


def _price_edit(request, override):
    form = PriceOverrideForm(request.POST or None, instance=override, tenant=request.console.tenant)
    if request.method == "POST" and form.is_valid() and try_save(form, lambda: price_override_save(form.instance)):
        return redirect_after_write(request, reverse("console:prices"), "Price override saved.")
    return form_page(request, "console/price_form.html", {"form": form, "override": override})


@require_POST
@console_view(write=MONEY_WRITERS)
def price_delete(request, pk):
    override = own(request, PriceOverride.objects, pk)
    try:
        price_override_delete(override)
    except ValidationError as exc:
        return render_page(request, "console/error.html", None, {"message": " ".join(exc.messages)}, status=409)
    return redirect_after_write(request, reverse("console:prices"), "Price override deleted.")
