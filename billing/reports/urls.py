"""URLs of the finance reports, mounted under /api/v1/ next to the admin API's router."""
from datetime import date

from django.urls import path, register_converter

from billing import reports_api as api


class MonthConverter:
    """`2025-01` in a URL, the first of that month in the view."""

    regex = r"\d{4}-(?:0[1-9]|1[0-2])"

    def to_python(self, value):
        return date.fromisoformat(f"{value}-01")

    def to_url(self, value):
        return value.strftime("%Y-%m") if isinstance(value, date) else value


register_converter(MonthConverter, "yyyy_mm")

CSV, PDF = {"format": "csv"}, {"format": "pdf"}
STATEMENT = "statements/<slug:tenant>/<yyyy_mm:month>"
TEAM_STATEMENT = "statements/<slug:tenant>/teams/<int:team>/<yyyy_mm:month>"

urlpatterns = [
    path("reports/cost/", api.CostReportApi.as_view(), name="report-cost"),
    path("reports/cost.csv", api.CostReportApi.as_view(), CSV, name="report-cost-csv"),
    path("reports/month-over-month/", api.MonthOverMonthApi.as_view(), name="report-mom"),
    path("reports/month-over-month.csv", api.MonthOverMonthApi.as_view(), CSV, name="report-mom-csv"),
    path("reports/forecast/", api.ForecastApi.as_view(), name="report-forecast"),
    path("reports/forecast.csv", api.ForecastApi.as_view(), CSV, name="report-forecast-csv"),
    path("reports/focus.csv", api.FocusExportApi.as_view(), CSV, name="report-focus-csv"),
    path(f"{STATEMENT}/", api.StatementApi.as_view(), name="statement"),
    path(f"{STATEMENT}.pdf", api.StatementApi.as_view(), PDF, name="statement-pdf"),
    path(f"{STATEMENT}.csv", api.StatementApi.as_view(), CSV, name="statement-csv"),
    path(f"{TEAM_STATEMENT}/", api.TeamStatementApi.as_view(), name="team-statement"),
    path(f"{TEAM_STATEMENT}.pdf", api.TeamStatementApi.as_view(), PDF, name="team-statement-pdf"),
    path(f"{TEAM_STATEMENT}.csv", api.TeamStatementApi.as_view(), CSV, name="team-statement-csv"),
]
