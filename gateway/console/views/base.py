"""Helpers shared by the console views: tenant-scoped lookups and the save-then-redirect flow."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.forms import BaseForm, BaseFormSet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect

from gateway.console.htmx import render_page


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
