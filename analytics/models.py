"""Rollups of the usage ledger: what reports and dashboards read instead of raw rows."""
from django.db import models

# Sums of up to ~10^12 calls at 12 decimals, the ledger's own precision.
MONEY = {"max_digits": 26, "decimal_places": 12, "default": 0}


class Granularity(models.TextChoices):
    HOUR = "hour"  # a UTC hour
    DAY = "day"  # a calendar day in the tenant's time zone


class Grouping(models.TextChoices):
    """Which dimensions a row is grouped by; the other dimension columns are null / ''.

    One grouping per dimension gives exact latency percentiles for that
    dimension; DETAIL groups by all of them at once, so sums can be drilled
    down with any combination of filters (its percentiles are per fine row).
    """

    TENANT = "tenant"
    TEAM = "team"
    KEY = "key"
    USER = "user"
    ROUTE = "route"
    PROVIDER = "provider"
    MODEL = "model"
    DETAIL = "detail"


class UsageRollup(models.Model):
    """One bucket of one tenant's traffic for one value (or combination) of the dimensions.

    Rebuilt, never updated: `analytics.rollups` deletes a tenant's bucket and
    inserts it again from the ledger in one transaction.
    """

    granularity = models.CharField(max_length=4, choices=Granularity.choices)
    grouping = models.CharField(max_length=8, choices=Grouping.choices)
    bucket_start = models.DateTimeField()  # the instant the bucket starts (an hour, or local midnight)
    # The date of bucket_start in `time_zone`: the tenant's zone for day rows (reports filter
    # on it), UTC for hour rows.
    day = models.DateField()
    time_zone = models.CharField(max_length=64)
    tenant_id = models.BigIntegerField()
    team_id = models.BigIntegerField(null=True)
    key_id = models.BigIntegerField(null=True)
    user_id = models.BigIntegerField(null=True)
    route = models.CharField(max_length=100, blank=True, default="")
    provider = models.CharField(max_length=100, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")

    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)  # status >= 400
    cache_hits = models.BigIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(**MONEY)
    cost_saved_usd = models.DecimalField(**MONEY)
    latency_p50_ms = models.FloatField(null=True)
    latency_p95_ms = models.FloatField(null=True)
    built_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Reports: a tenant's rows of one grouping over a range of days.
            models.Index(fields=["tenant_id", "granularity", "grouping", "day"], name="rollup_report"),
            # Rebuilds: delete one bucket.
            models.Index(fields=["granularity", "bucket_start", "tenant_id"], name="rollup_bucket"),
        ]

    def __str__(self):
        return f"{self.tenant_id} {self.granularity} {self.bucket_start:%Y-%m-%d %H:%M} {self.grouping}"
