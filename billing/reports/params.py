"""Query parameters of the reports: validated with DRF serializers (and documented from them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from rest_framework import serializers

from analytics.models import Grouping
from gateway.api.fields import is_id

DIMENSIONS = ["tenant", "team", "key", "user", "route", "provider", "model"]
ID_DIMENSIONS = ("team", "key", "user")
NAME_DIMENSIONS = ("route", "provider", "model")
# A day-by-key report over years would be an unbounded response: two years
# still covers a year-over-year comparison of whole months.
MAX_SPAN_DAYS = 731
NONE = "none"


class IdOrNoneField(serializers.CharField):
    """An object id, or `none` for rows without one (e.g. calls by keys without a team)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value == NONE:
            return None
        if not is_id(value):
            raise serializers.ValidationError("an id or 'none'")
        return int(value)


class FilterParams(serializers.Serializer):
    """Drill-down: each given dimension narrows the rows."""

    tenant = serializers.SlugField(required=False, help_text="tenant slug")
    team = IdOrNoneField(required=False, help_text="team id, or 'none'")
    key = IdOrNoneField(required=False, help_text="API key id, or 'none'")
    user = IdOrNoneField(required=False, help_text="user id, or 'none'")
    route = serializers.CharField(required=False, allow_blank=True, help_text="route name ('' = no route)")
    provider = serializers.CharField(required=False, allow_blank=True, help_text="provider name")
    model = serializers.CharField(required=False, allow_blank=True, help_text="upstream model")


class PeriodParams(FilterParams):
    """A range of tenant-local days, and the drill-down filters."""

    from_ = serializers.DateField(required=False, help_text="first day (tenant-local); default: 1st of this month")
    to = serializers.DateField(required=False, help_text="last day, inclusive; default: today")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # `from` is a Python keyword
        return fields



class CostParams(PeriodParams):
    dimension = serializers.ChoiceField(DIMENSIONS, default="tenant")
    period = serializers.ChoiceField(["day", "month"], default="month")


class MonthField(serializers.CharField):
    def to_internal_value(self, data):
        try:
            return date.fromisoformat(f"{super().to_internal_value(data)}-01")
        except ValueError:
            raise serializers.ValidationError("a month, YYYY-MM") from None


class MonthParams(FilterParams):
    dimension = serializers.ChoiceField(DIMENSIONS, default="tenant")
    month = MonthField(required=False, help_text="YYYY-MM; default: this month (tenant-local)")


@dataclass
class Query:
    """A parsed report request: which tenants, which rows, grouped how."""

    tenants: list  # Tenant objects the caller may read, after the `tenant` filter
    first: date
    last: date
    dimension: str = "tenant"
    period: str = "day"
    filters: dict = field(default_factory=dict)  # rollup column -> value (None: IS NULL)

    @property
    def tenant_ids(self):
        return [tenant.pk for tenant in self.tenants]

    @property
    def grouping(self) -> str:
        """Single-dimension rows when no other dimension filters them (exact percentiles), else detail rows."""
        column = column_of(self.dimension)
        return self.dimension if set(self.filters) <= {column} else Grouping.DETAIL


def resolve_dates(data: dict, today: date) -> tuple[date, date]:
    """from/to with their defaults (this month to date), checked after defaulting."""
    first, last = data.get("from") or today.replace(day=1), data.get("to") or today
    if last < first:
        raise serializers.ValidationError({"to": ["before from"]})
    if (last - first).days >= MAX_SPAN_DAYS:
        raise serializers.ValidationError({"to": [f"at most {MAX_SPAN_DAYS - 1} days after from"]})
    return first, last


def column_of(dimension: str) -> str:
    return f"{dimension}_id" if dimension in ID_DIMENSIONS or dimension == "tenant" else dimension


def rollup_filters(data: dict) -> dict:
    return {column_of(name): data[name] for name in (*ID_DIMENSIONS, *NAME_DIMENSIONS) if name in data}


def month_bounds(first_of_month: date) -> tuple[date, date]:
    following = (first_of_month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_of_month, following - timedelta(days=1)
