"""The request log explorer: the current tenant's ledger rows, filtered, paginated by keyset.

Pages are keyset-paginated on (created_at, id), newest first: the cursor is the
last row shown, so a page costs the same however deep it is and rows arriving
meanwhile never shift a page. Developers see their own keys' requests only.
"""
from __future__ import annotations

from datetime import datetime

from django import forms
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_safe

from billing.models import UsageRecord
from gateway.api.fields import is_id
from gateway.console.htmx import render_page
from gateway.console.tenancy import console_view
from gateway.console.views.dashboards import own_key_ids
from gateway.models import ApiKey

PAGE_SIZE = 50
CACHE_STATUSES = ["hit", "semantic", "miss", "bypass"]
STATUS_CLASSES = {"2xx": (200, 299), "4xx": (400, 499), "5xx": (500, 599), "error": (400, 999)}
# What the list shows: the wide JSON column (attempt_log) is read on the detail page only.
LIST_FIELDS = ("id", "created_at", "request_id", "key_id", "route", "provider", "model", "status", "error_code",
               "stream", "cache_status", "input_tokens", "output_tokens", "latency_ms", "cost_usd", "attempts")


class LogFilterForm(forms.Form):
    since = forms.DateTimeField(required=False, label="From (UTC)",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, label="Until (UTC)",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    key = forms.IntegerField(required=False, min_value=1)
    route = forms.CharField(required=False, max_length=100)
    status = forms.CharField(required=False, max_length=5, help_text="2xx, 4xx, 5xx, error or a code")
    cache_status = forms.ChoiceField(required=False, label="Cache",
                                     choices=[("", "any")] + [(s, s) for s in CACHE_STATUSES])

    def clean_status(self):
        value = self.cleaned_data["status"].strip().lower()
        if value and value not in STATUS_CLASSES and not (is_id(value) and 100 <= int(value) <= 599):
            raise forms.ValidationError("2xx, 4xx, 5xx, error or a status code")
        return value


def tenant_rows(request):
    rows = UsageRecord.objects.filter(tenant_id=request.console.tenant.pk)
    key_ids = own_key_ids(request)
    return rows if key_ids is None else rows.filter(key_id__in=key_ids)


def filtered(rows, form):
    if not form.is_valid():
        return rows
    data = form.cleaned_data
    if data["since"]:
        rows = rows.filter(created_at__gte=data["since"])
    if data["until"]:
        rows = rows.filter(created_at__lte=data["until"])
    if data["key"]:
        rows = rows.filter(key_id=data["key"])
    if data["route"]:
        rows = rows.filter(route=data["route"])
    if data["cache_status"]:
        rows = rows.filter(cache_status=data["cache_status"])
    status = data["status"]
    if status in STATUS_CLASSES:
        low, high = STATUS_CLASSES[status]
        rows = rows.filter(status__gte=low, status__lte=high)
    elif status:
        rows = rows.filter(status=int(status))
    return rows


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """`<ISO created_at>_<id>` of the last row of the previous page."""
    if not value or "_" not in value:
        return None
    moment, _sep, pk = value.rpartition("_")
    parsed = parse_datetime(moment.replace(" ", "+"))
    return (parsed, int(pk)) if parsed and is_id(pk) else None


def cursor_of(row) -> str:
    return f"{row.created_at.isoformat()}_{row.pk}"


def page_of(rows, cursor):
    rows = rows.only(*LIST_FIELDS).order_by("-created_at", "-id")
    if cursor:
        moment, pk = cursor
        rows = rows.filter(Q(created_at__lt=moment) | Q(created_at=moment, id__lt=pk))
    page = list(rows[: PAGE_SIZE + 1])
    return page[:PAGE_SIZE], len(page) > PAGE_SIZE


def key_names(tenant, key_ids) -> dict:
    ids = {pk for pk in key_ids if pk is not None}
    if not ids:
        return {}
    return dict(ApiKey.objects.filter(tenant=tenant, id__in=ids).values_list("id", "name"))


@require_safe
@console_view()
def log_list(request):
    tenant = request.console.tenant
    form = LogFilterForm(request.GET or None)
    rows, more = page_of(filtered(tenant_rows(request), form), parse_cursor(request.GET.get("after")))
    names = key_names(tenant, [row.key_id for row in rows])
    for row in rows:
        row.key_name = names.get(row.key_id, f"#{row.key_id}" if row.key_id else "–")
    query = request.GET.copy()
    query.pop("after", None)
    keys = ApiKey.objects.filter(tenant=tenant).order_by("name")
    own = own_key_ids(request)
    if own is not None:
        keys = keys.filter(id__in=own)
    return render_page(request, "console/logs.html", "htmx/log_rows.html", {
        "form": form, "rows": rows, "next_cursor": cursor_of(rows[-1]) if more else None,
        "query": query.urlencode(), "is_first_page": "after" not in request.GET,
        "keys": keys.values_list("id", "name"), "cache_statuses": CACHE_STATUSES,
    })


@require_safe
@console_view()
def log_detail(request, pk):
    row = get_object_or_404(tenant_rows(request), pk=pk)
    key = ApiKey.objects.filter(tenant=request.console.tenant, pk=row.key_id).only("id", "name").first() \
        if row.key_id else None
    attempts = annotated_attempts(row.attempt_log)
    return render_page(request, "console/log_detail.html", None, {
        "row": row, "key": key, "attempts": attempts,
        "retries": sum(1 for a in attempts if a["kind"] == "retry"),
        "fallbacks": sum(1 for a in attempts if a["kind"] == "fallback"),
        "total_tokens": row.input_tokens + row.output_tokens,
    })


def annotated_attempts(log) -> list[dict]:
    """Each attempt with its kind: the first, a retry of the same target, or a fallback to another one."""
    out, previous = [], None
    for n, attempt in enumerate(log if isinstance(log, list) else [], start=1):
        if not isinstance(attempt, dict):
            continue
        target = (attempt.get("route"), attempt.get("provider"), attempt.get("model"))
        kind = "first" if previous is None else ("retry" if target == previous else "fallback")
        out.append({**attempt, "n": n, "kind": kind})
        previous = target
    return out
