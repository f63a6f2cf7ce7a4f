"""Helpers shared by the console views: tenant-scoped lookups and the save-then-redirect flow."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.forms import BaseForm, BaseFormSet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect

from gateway.console.forms import KeyRotateForm
from gateway.console.htmx import render_page
from gateway.services.dependants import BLOCKING_ERRORS, dependants_message, dependants_of
from gateway.services.keys import key_rotate


def own(request, queryset, pk):
    """One object of the current tenant; shared and other tenants' objects are 404."""
    return get_object_or_404(queryset.filter(tenant=request.console.tenant), pk=pk)


def visible(request, queryset):
    """The current tenant's rows plus shared ones (read-only in the console)."""
    return queryset.filter(Q(tenant=request.console.tenant) | Q(tenant__isnull=True))


def redirect_after_write(request, to, message):
    messages.success(request, message)
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = to
        return response
    return redirect(to)


def delete_or_dependants(request, obj, label, to, done=None):
    """Delete `obj`, then redirect to `to`; while other objects depend on it (PROTECT), a 409 page
    names them instead (nothing is deleted)."""
    try:
        with transaction.atomic():
            obj.delete()
    except BLOCKING_ERRORS as exc:
        dependants, total = dependants_of(exc)
        return render_page(request, "console/dependants.html", None, {
            "label": label, "dependants": dependants, "total": total, "back": to,
            "message": f"{label} cannot be deleted: {dependants_message(dependants, total)}.",
        }, status=409)
    return redirect_after_write(request, to, done or f"{label} deleted.")


def try_save(form, save):
    """Run `save()` atomically; turn model/DB validation errors into form errors. True on success."""
    try:
        with transaction.atomic():
            save()
    except ValidationError as exc:
        for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
            form.add_error(field if field in form.fields else None, errors)
        return False
    except (IntegrityError, ValueError) as exc:
        form.add_error(None, str(exc).splitlines()[0])
        return False
    return True


def form_page(request, template, context, status=None):
    """Re-render a form; 400 when it was posted with errors (so tests and htmx can tell)."""
    failed = request.method == "POST" and any(_has_errors(v) for v in context.values())
    return render_page(request, template, None, context, status=status or (400 if failed else 200))


def _has_errors(value):
    if isinstance(value, BaseFormSet):
        return value.is_bound and value.total_error_count() > 0
    return isinstance(value, BaseForm) and value.is_bound and bool(value.errors)


def secret_page(request, template, context):
    """The one response that carries a key's secret: never cached, never stored in the session."""
    response = render_page(request, template, None, context)
    response["Cache-Control"] = "no-store"
    return response


def rotate_key_page(request, key, form_template, show_secret):
    """The rotate flow of the console and the portal: the form, or after a valid POST the new
    secret, shown once through `show_secret(request, key, secret, headline)`."""
    form = KeyRotateForm(request.POST or None)
    created = {}
    if request.method == "POST" and form.is_valid():
        def save():
            created["key"], created["secret"] = key_rotate(key, grace_seconds=form.cleaned_data["grace_seconds"])

        if try_save(form, save):
            return show_secret(request, created["key"], created["secret"], "Key rotated")
    return form_page(request, form_template, {"form": form, "key": key})
