"""Finance reports in the REST API: cost, month over month, forecast, FOCUS export, statements.

Readable by owners, admins and finance of a tenant; other tenants are 404,
other roles 403 (`billing.reports.scope`). Every number is a sum over the
analytics rollups, which `analytics.rollup_recent` keeps at most a few
minutes behind the ledger: no request aggregates the raw ledger.
"""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, renderers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.reports import focus, schema, statements
from billing.reports.params import (
    CostParams,
    MonthParams,
    PeriodParams,
    Query,
    month_bounds,
    resolve_dates,
    rollup_filters,
)
from billing.reports.queries import COUNTS, MONEY, PERCENTILES, cost_rows, forecast, month_over_month, totals
from billing.reports.renderers import CsvRenderer, StatementPdfRenderer
from billing.reports.scope import readable_team, readable_tenants, reference_zone
from gateway.api.permissions import access_for

CSV = OpenApiResponse(OpenApiTypes.STR, description="text/csv")


def _with_csv(serializer):
    return {(200, "application/json"): serializer, (200, "text/csv"): CSV}


class ReportSchema(AutoSchema):
    def get_operation_id(self):
        # One view serves `cost/` and `cost.csv`: ids from the path, without the dot.
        return super().get_operation_id().replace("_.", "_").replace(".", "_")


class ReportApi(APIView):
    schema = ReportSchema()
    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]
    params_class = CostParams
    download = "report"

    def parse(self, request):
        params = self.params_class(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        tenants = readable_tenants(access_for(request), data.get("tenant"))
        return data, tenants, timezone.now().astimezone(reference_zone(tenants)).date()

    def finalize_response(self, request, response, *args, **kwargs):
        renderer = getattr(request, "accepted_renderer", None)
        if renderer is not None and renderer.format != "json":
            if response.status_code >= 400 or request.method not in ("GET", "HEAD"):
                # Errors keep the API's JSON envelope whatever the download format, and so does an
                # OPTIONS answer (DRF's metadata, not a report: the CSV renderer raised KeyError on it).
                request.accepted_renderer, request.accepted_media_type = renderers.JSONRenderer(), "application/json"
            else:
                response["Content-Disposition"] = f'attachment; filename="{self.download}.{renderer.format}"'
        return super().finalize_response(request, response, *args, **kwargs)


def _measure_columns():
    return [(name, name) for name in (*COUNTS, *MONEY)]


def _described_columns(dimension):
    value = [] if dimension == "tenant" else [("value", dimension)]
    return [("tenant", "tenant"), *value, ("label", "label")]


class CostReportApi(ReportApi):
    """Cost and usage by one dimension per day or month, drilled down by filters on any dimension."""

    @extend_schema(parameters=[CostParams], responses=_with_csv(schema.CostReportSerializer))
    def get(self, request, format=None):
        data, tenants, today = self.parse(request)
        first, last = resolve_dates(data, today)
        query = Query(tenants, first, last, data["dimension"], data["period"], rollup_filters(data))
        rows = cost_rows(query)
        self.download = f"cost-by-{query.dimension}-{first}-{last}"
        return Response({
            "dimension": query.dimension, "period": query.period, "from": first, "to": last, "currency": "USD",
            "rows": rows, "totals": totals(rows),
        })

    def csv_table(self, data):
        columns = [("period", "period"), *_described_columns(data["dimension"]), *_measure_columns()]
        return [*columns, *((name, name) for name in PERCENTILES)], data["rows"]


def _month(data, today):
    month = data.get("month") or today.replace(day=1)
    return month, (month - timedelta(days=1)).replace(day=1)


class MonthOverMonthApi(ReportApi):
    """This month against the previous one (whole, and to the same day of the month), per dimension value."""

    params_class = MonthParams

    @extend_schema(parameters=[MonthParams], responses=_with_csv(schema.MonthOverMonthSerializer))
    def get(self, request, format=None):
        data, tenants, today = self.parse(request)
        month, previous = _month(data, today)
        query = Query(tenants, *month_bounds(month), data["dimension"], "month", rollup_filters(data))
        self.download = f"month-over-month-by-{query.dimension}-{month:%Y-%m}"
        return Response({
            "dimension": query.dimension, "month": f"{month:%Y-%m}", "previous_month": f"{previous:%Y-%m}",
            "rows": month_over_month(query, month, today),
        })

    def csv_table(self, data):
        names = [name for name in schema.MonthRowSerializer().fields if name not in ("tenant", "value", "label")]
        return [*_described_columns(data["dimension"]), *((name, name) for name in names)], data["rows"]


class ForecastApi(ReportApi):
    """Cost to the end of the month: cost so far + the month's daily run rate × the days left (linear)."""

    params_class = MonthParams

    @extend_schema(parameters=[MonthParams], responses=_with_csv(schema.ForecastSerializer))
    def get(self, request, format=None):
        data, tenants, today = self.parse(request)
        month, _previous = _month(data, today)
        if month > today.replace(day=1):
            raise exceptions.ValidationError({"month": ["a month that has begun"]})
        query = Query(tenants, *month_bounds(month), data["dimension"], "month", rollup_filters(data))
        self.download = f"forecast-by-{query.dimension}-{month:%Y-%m}"
        return Response({"dimension": query.dimension, "month": f"{month:%Y-%m}", "rows": forecast(query, month)})

    def csv_table(self, data):
        names = [name for name in schema.ForecastRowSerializer().fields if name not in ("tenant", "value", "label")]
        return [*_described_columns(data["dimension"]), *((name, name) for name in names)], data["rows"]


class FocusExportApi(ReportApi):
    """FinOps FOCUS 1.1 cost and usage rows: one per tenant-local day, team, key, user, route, provider, model."""

    params_class = PeriodParams
    renderer_classes = [CsvRenderer]

    @extend_schema(parameters=[PeriodParams], responses={(200, "text/csv"): CSV})
    def get(self, request, format=None):
        data, tenants, today = self.parse(request)
        first, last = resolve_dates(data, today)
        query = Query(tenants, first, last, "tenant", "day", rollup_filters(data))
        self.download = f"focus-{focus.FOCUS_VERSION}-{first}-{last}"
        return Response({"rows": focus.focus_rows(query)})

    def csv_table(self, data):
        return focus.csv_columns(), data["rows"]


STATEMENT_PATH = [
    OpenApiParameter("tenant", str, OpenApiParameter.PATH, description="tenant slug"),
    OpenApiParameter("month", str, OpenApiParameter.PATH, description="YYYY-MM, in the tenant's time zone"),
]
STATEMENT_RESPONSES = {
    (200, "application/json"): schema.StatementSerializer,
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="application/pdf"),
    (200, "text/csv"): CSV,
}


class StatementApi(ReportApi):
    """A tenant's monthly statement (lines by team and model) as JSON, PDF or CSV."""

    renderer_classes = [renderers.JSONRenderer, StatementPdfRenderer, CsvRenderer]

    @extend_schema(parameters=STATEMENT_PATH, responses=STATEMENT_RESPONSES)
    def get(self, request, tenant, month, format=None):
        [owner] = readable_tenants(access_for(request), tenant)
        self.download = f"statement-{owner.slug}-{month:%Y-%m}"
        return Response(statements.statement(owner, month))

    def csv_table(self, data):
        return statements.csv_columns(data), statements.csv_rows(data)


class TeamStatementApi(StatementApi):
    """A team's monthly chargeback statement (lines by API key and model) as JSON, PDF or CSV."""

    @extend_schema(
        parameters=[*STATEMENT_PATH, OpenApiParameter("team", int, OpenApiParameter.PATH)],
        responses=STATEMENT_RESPONSES,
    )
    def get(self, request, tenant, team, month, format=None):
        [owner] = readable_tenants(access_for(request), tenant)
        chargee = readable_team(owner, team)
        self.download = f"statement-{owner.slug}-team-{chargee.pk}-{month:%Y-%m}"
        return Response(statements.statement(owner, month, chargee))
