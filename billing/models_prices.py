"""Price overrides with effective dates, and re-rating runs with their adjustments.

Imported by billing/models.py, so the models belong to the `billing` app.
"""
import uuid
from datetime import UTC

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

# USD per million tokens (or per hour), as negotiated: 6 decimal places reach $0.000001/Mtok.
PRICE_DIGITS, PRICE_PLACES = 14, 6
# The ledger's precision (UsageRecord.cost_usd).
COST_DIGITS, COST_PLACES = 20, 12


def _price_field(help_text):
    return models.DecimalField(
        max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES, null=True, blank=True,
        validators=[MinValueValidator(0)], help_text=help_text,
    )


class PriceOverride(models.Model):
    """A negotiated or self-hosted price for (provider, upstream model), optionally narrowed.

    Precedence, most specific first: tenant+route > route > tenant+provider >
    provider > the provider's `options.prices` > the genai-prices catalogue.
    tenant=None: a shared override (platform superusers only). The window
    [valid_from, valid_to) decides which calls it prices; windows of one scope
    never overlap, so exactly one price is in force at any moment.
    """

    class Unit(models.TextChoices):
        TOKEN = "token"
        HOUR = "hour"  # self-hosted capacity: calls cost 0 in the ledger, finance allocates the hours

    tenant = models.ForeignKey(
        "gateway.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="price_overrides"
    )
    route = models.ForeignKey(
        "gateway.Route", null=True, blank=True, on_delete=models.CASCADE, related_name="price_overrides"
    )
    provider = models.ForeignKey("gateway.Provider", on_delete=models.CASCADE, related_name="price_overrides")
    model = models.CharField(max_length=200, help_text="the upstream model, as in the route's target")
    unit = models.CharField(max_length=8, choices=Unit.choices, default=Unit.TOKEN)
    input_per_mtok = _price_field("USD per million uncached input tokens")
    output_per_mtok = _price_field("USD per million output tokens")
    cached_input_per_mtok = _price_field("USD per million cache-read input tokens (empty: the input price)")
    cache_write_per_mtok = _price_field("USD per million cache-write input tokens (empty: the input price)")
    per_hour_usd = _price_field("USD per hour of a self-hosted deployment (unit hour)")
    valid_from = models.DateTimeField(default=timezone.now)
    valid_to = models.DateTimeField(null=True, blank=True, help_text="exclusive; empty: until further notice")
    note = models.CharField(max_length=200, blank=True, help_text="e.g. the contract it comes from")
    # Bumped whenever a price, the unit or the window changes: part of the ledger's price version.
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider_id", "model", "tenant_id", "route_id", "valid_from"]
        indexes = [models.Index(fields=["provider", "model"], name="price_override_target")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__isnull=True) | models.Q(valid_to__gt=models.F("valid_from")),
                name="price_override_window",
            ),
        ]

    def __str__(self):
        return f"{self.scope} {self.provider_id}:{self.model} from {self.valid_from:%Y-%m-%d %H:%M}"

    @property
    def scope(self):
        narrowest = "route" if self.route_id else "provider"
        return f"tenant+{narrowest}" if self.tenant_id else narrowest

    @property
    def version(self):
        """The ledger's price_version for calls this override priced (≤ 64 characters)."""
        start = self.valid_from.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"override:{self.pk}@{start}/r{self.revision}"

    def clean(self):
        errors = price_problems(
            self.unit, self.input_per_mtok, self.output_per_mtok, self.per_hour_usd,
            (self.cached_input_per_mtok, self.cache_write_per_mtok), self.valid_from, self.valid_to,
        )
        errors.update(self._tenancy_problems())
        if errors:
            raise ValidationError(errors)

    def _tenancy_problems(self):
        errors = {}
        for name in ("provider", "route"):
            owner = getattr(self, name).tenant_id if getattr(self, f"{name}_id") else None
            if owner is not None and owner != self.tenant_id:
                errors[name] = "belongs to another tenant: set tenant to its owner"
        return errors


def price_problems(unit, input_price, output_price, per_hour, other_token_prices, valid_from, valid_to):
    """Field errors of one price (shared by the model, the API and the config file's schema)."""
    errors = {}
    if unit == PriceOverride.Unit.HOUR:
        if per_hour is None:
            errors["per_hour_usd"] = "required when unit is hour"
        if any(p is not None for p in (input_price, output_price, *other_token_prices)):
            errors["unit"] = "an hourly price has no per-token prices"
    else:
        if input_price is None and output_price is None:
            errors["input_per_mtok"] = "give an input and/or an output price per million tokens"
        if per_hour is not None:
            errors["per_hour_usd"] = "only allowed when unit is hour"
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        errors["valid_to"] = "must be after valid_from"
    return errors


class RerateRun(models.Model):
    """One `manage.py rerate`: the period it recomputed and what it found."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()  # exclusive
    tenant_id = models.BigIntegerField(null=True, blank=True)  # None: every tenant
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_scanned = models.PositiveIntegerField(default=0)
    rows_adjusted = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0)  # cache hits, deleted providers
    old_total_usd = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, default=0)
    new_total_usd = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, default=0)
    delta_usd = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES, default=0)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"rerate {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d} {self.delta_usd:+} USD"


class RatingAdjustment(models.Model):
    """A re-rated ledger row: the ledger stays append-only, corrections live here.

    The effective cost of a call is its ledger cost plus the deltas of its adjustments.
    """

    run = models.ForeignKey(RerateRun, on_delete=models.PROTECT, related_name="adjustments")
    event_id = models.UUIDField()  # UsageRecord.event_id (no FK: the ledger has none either)
    tenant_id = models.BigIntegerField(null=True)
    usage_at = models.DateTimeField()  # the call's time, so reports put the delta in the call's period
    old_cost_usd = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES)
    new_cost_usd = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES)
    delta_usd = models.DecimalField(max_digits=COST_DIGITS, decimal_places=COST_PLACES)
    price_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["usage_at", "id"]
        indexes = [
            models.Index(fields=["event_id"], name="rating_adj_event"),
            models.Index(fields=["tenant_id", "usage_at"], name="rating_adj_tenant_time"),
        ]

    def __str__(self):
        return f"{self.event_id} {self.delta_usd:+} USD"
