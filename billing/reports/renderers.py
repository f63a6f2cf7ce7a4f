"""CSV and PDF renderers for the report views (JSON is DRF's own)."""
from __future__ import annotations

import csv
import io
import re

from django.template.loader import render_to_string
from rest_framework import renderers

# A spreadsheet runs a cell that starts with one of these as a formula
# (CSV injection): names typed by users get a leading quote. Numbers stay as they are.
FORMULA_START = tuple("=+-@\t\r")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def safe_cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not NUMBER.match(value):
        return "'" + value
    return value


def write_csv(columns: list[tuple[str, str]], rows: list[dict]) -> bytes:
    """`columns` are (row key, header) pairs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow([header for _key, header in columns])
    for row in rows:
        writer.writerow([safe_cell(row.get(key)) for key, _header in columns])
    return buffer.getvalue().encode("utf-8")


class CsvRenderer(renderers.BaseRenderer):
    """Writes the (columns, rows) table the view makes of the data with `csv_table(data)`."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        view = (renderer_context or {}).get("view")
        return write_csv(*view.csv_table(data))


def refuse_fetch(url, *args, **kwargs):
    """The template is self-contained: a statement never makes the server fetch a URL (SSRF)."""
    raise ValueError(f"statements load no external resources: {url}")


class StatementPdfRenderer(renderers.BaseRenderer):
    """A monthly statement as PDF: the HTML template printed by WeasyPrint."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"
    template_name = "billing/statement.html"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Imported here: WeasyPrint loads Pango through cffi, which only PDF requests need.
        from weasyprint import HTML

        from billing.reports.statements import sections

        html = render_to_string(self.template_name, {**data, "sections": sections(data)})
        return HTML(string=html, url_fetcher=refuse_fetch).write_pdf()
