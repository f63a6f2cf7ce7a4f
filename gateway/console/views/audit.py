"""The audit log of the current tenant, filtered and paginated."""
from django.core.paginator import Paginator
from django.views.decorators.http import require_safe

from gateway.console.forms import AuditFilterForm
from gateway.console.htmx import render_page
from gateway.console.tenancy import AUDIT_READERS, console_view
from gateway.models import AuditEvent

PAGE_SIZE = 50  # a screenful of rows on a laptop


def _filtered(tenant, form):
    events = AuditEvent.objects.filter(tenant=tenant).order_by("-id")
    if not form.is_valid():
        return events
    data = form.cleaned_data
    if data["object_type"]:
        events = events.filter(object_type=data["object_type"])
    if data["action"]:
        events = events.filter(action=data["action"])
    if data["actor"]:
        events = events.filter(actor_label__icontains=data["actor"])
    if data["since"]:
        events = events.filter(created_at__date__gte=data["since"])
    if data["until"]:
        events = events.filter(created_at__date__lte=data["until"])
    return events


@require_safe
@console_view(read=AUDIT_READERS)
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    page = Paginator(_filtered(request.console.tenant, form), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    types = (AuditEvent.objects.filter(tenant=request.console.tenant).order_by("object_type")
             .values_list("object_type", flat=True).distinct())
    return render_page(request, "console/audit.html", "htmx/audit_rows.html",
                       {"form": form, "page": page, "query": query.urlencode(), "object_types": types})
