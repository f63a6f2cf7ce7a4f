"""Response shapes of the reports, for the OpenAPI document (the views build plain dicts)."""
from rest_framework import serializers


def _money(help_text="USD, 12 decimals (the ledger's precision), as a string"):
    return serializers.DecimalField(max_digits=26, decimal_places=12, help_text=help_text)


class FromToMixin:
    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # `from` is a Python keyword
        return fields


class TotalsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="responses with status >= 400")
    cache_hits = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cached_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    cost_usd = _money()
    cost_saved_usd = _money("what cache hits would have cost upstream")


class Described(serializers.Serializer):
    tenant = serializers.CharField(help_text="tenant slug")
    value = serializers.JSONField(help_text="the dimension's value: tenant slug, object id (null: none) or name")
    label = serializers.CharField(help_text="team or key name, user e-mail, tenant name")


class CostRowSerializer(Described, TotalsSerializer):
    period = serializers.CharField(help_text="YYYY-MM-DD (period=day) or YYYY-MM (period=month)")
    latency_p50_ms = serializers.FloatField(allow_null=True, help_text="only for period=day without cross-filters")
    latency_p95_ms = serializers.FloatField(allow_null=True)


class CostReportSerializer(FromToMixin, serializers.Serializer):
    dimension = serializers.CharField()
    period = serializers.CharField()
    from_ = serializers.DateField()
    to = serializers.DateField()
    currency = serializers.CharField()
    rows = CostRowSerializer(many=True)
    totals = TotalsSerializer()


class MonthRowSerializer(Described):
    cost_usd = _money()
    previous_cost_usd = _money("the whole previous month")
    previous_to_date_cost_usd = _money("the previous month's first N days, N = days of this month so far")
    change_usd = _money()
    change_pct = serializers.FloatField(allow_null=True, help_text="null when the previous month cost nothing")
    requests = serializers.IntegerField()
    previous_requests = serializers.IntegerField()


class MonthOverMonthSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    month = serializers.CharField()
    previous_month = serializers.CharField()
    rows = MonthRowSerializer(many=True)


class ForecastRowSerializer(Described):
    month = serializers.CharField()
    days_elapsed = serializers.FloatField(help_text="days of the month gone by, today's fraction included")
    days_in_month = serializers.IntegerField()
    cost_to_date_usd = _money()
    requests_to_date = serializers.IntegerField()
    daily_run_rate_usd = _money("cost to date / days elapsed")
    forecast_usd = _money("cost to date + run rate × days left")


class ForecastSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    month = serializers.CharField()
    rows = ForecastRowSerializer(many=True)


class StatementLineSerializer(TotalsSerializer):
    group_id = serializers.IntegerField(allow_null=True, help_text="team id (tenant statement) or key id")
    group = serializers.CharField()
    model = serializers.CharField()


class StatementSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(["tenant", "team"])
    tenant = serializers.DictField()
    team = serializers.DictField(allow_null=True)
    month = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    currency = serializers.CharField()
    group_by = serializers.ChoiceField(["team", "key"])
    lines = StatementLineSerializer(many=True)
    subtotals = serializers.ListField(child=serializers.DictField(), help_text="per team (or key)")
    totals = TotalsSerializer()
    generated_at = serializers.DateTimeField()
    data_as_of = serializers.DateTimeField(allow_null=True, help_text="when the newest rollup row was built")
