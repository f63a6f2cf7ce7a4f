"""Budgets: spend limits per tenant, team, key or user."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

# Alert at half, most, and all of the budget unless configured otherwise.
DEFAULT_ALERT_THRESHOLDS = [50, 80, 100]


def default_thresholds():
    return list(DEFAULT_ALERT_THRESHOLDS)


class Budget(models.Model):
    class Scope(models.TextChoices):
        TENANT = "tenant"
        TEAM = "team"
        KEY = "key"
        USER = "user"

    class Period(models.TextChoices):
        DAILY = "daily"
        WEEKLY = "weekly"
        MONTHLY = "monthly"
        TOTAL = "total"

    class Action(models.TextChoices):
        BLOCK = "block"
        ALERT = "alert"
        DOWNGRADE = "downgrade"

    tenant = models.ForeignKey("gateway.Tenant", on_delete=models.CASCADE, related_name="budgets")
    scope = models.CharField(max_length=8, choices=Scope.choices)
    team = models.ForeignKey("gateway.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets")
    api_key = models.ForeignKey(
        "gateway.ApiKey", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    # Optional: the budget counts only calls to this route.
    route = models.ForeignKey("gateway.Route", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets")
    amount_usd = models.DecimalField(max_digits=14, decimal_places=6, validators=[MinValueValidator(0)])
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTHLY)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.BLOCK)
    downgrade_route = models.ForeignKey(
        "gateway.Route", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    alert_thresholds = models.JSONField(default=default_thresholds, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "scope", "id"]

    def __str__(self):
        return f"{self.tenant.slug}:{self.scope}:{self.subject_label} {self.amount_usd} USD/{self.period}"

    @property
    def subject_label(self):
        subject = {"team": self.team, "key": self.api_key, "user": self.user}.get(self.scope)
        return getattr(subject, "name", None) or str(subject or self.tenant.slug)

    def clean(self):
        required = {self.Scope.TEAM: "team", self.Scope.KEY: "api_key", self.Scope.USER: "user"}
        for scope, field in required.items():
            if self.scope == scope and getattr(self, f"{field}_id") is None:
                raise ValidationError({field: f"required when scope is {scope}"})
            if self.scope != scope and getattr(self, f"{field}_id") is not None:
                raise ValidationError({field: f"only allowed when scope is {scope}"})
        if self.action == self.Action.DOWNGRADE and self.downgrade_route_id is None:
            raise ValidationError({"downgrade_route": "required when action is downgrade"})


class UsageRecord(models.Model):
    """The ledger: exactly one row per data-plane request, append-only.

    Written in batches from the usage stream, idempotent on `event_id`. Ids of
    tenants/keys/routes are plain columns (no FK constraints) so the ledger
    outlives the objects it mentions and deleting a key never rewrites history.
    """

    event_id = models.UUIDField(unique=True)
    request_id = models.CharField(max_length=64)
    # The client's x-request-id when it was not 1-64 printable ASCII (request_id is then generated):
    # escaped (\xHH) and at most 64 characters. Blank when the client's id was used or none was sent.
    client_request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)  # when the request arrived
    tenant_id = models.BigIntegerField(null=True)
    team_id = models.BigIntegerField(null=True)
    key_id = models.BigIntegerField(null=True)
    user_id = models.BigIntegerField(null=True)
    route_id = models.BigIntegerField(null=True)
    route = models.CharField(max_length=100, blank=True)
    provider_id = models.BigIntegerField(null=True)
    provider = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=200, blank=True)  # the upstream model
    ingress = models.CharField(max_length=16)  # openai | anthropic
    endpoint = models.CharField(max_length=32)  # chat | embeddings | messages
    stream = models.BooleanField(default=False)
    status = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, blank=True)
    cancelled = models.BooleanField(default=False)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    cache_write_tokens = models.PositiveIntegerField(default=0)  # within input_tokens, priced apart
    reasoning_tokens = models.PositiveIntegerField(default=0)
    tokens_estimated = models.BooleanField(default=False)
    ttfb_ms = models.FloatField(null=True)
    latency_ms = models.FloatField(null=True)
    cost_usd = models.DecimalField(max_digits=20, decimal_places=12, default=0)
    price_version = models.CharField(max_length=64, blank=True)
    # What the provider says it billed, where it reports it (OpenRouter's usage.cost); ours stays cost_usd.
    provider_cost_usd = models.DecimalField(max_digits=20, decimal_places=12, null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    # Every upstream attempt (retries, fallbacks): [{"route", "provider", "model", "status", "error", "ms"}].
    attempt_log = models.JSONField(default=list, blank=True)
    cache_status = models.CharField(max_length=16, blank=True)  # hit | miss | bypass | semantic
    # What a cache hit would have cost upstream (the hit itself costs 0).
    cost_saved_usd = models.DecimalField(max_digits=20, decimal_places=12, default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant_id", "created_at"], name="usage_tenant_time"),
            models.Index(fields=["key_id", "created_at"], name="usage_key_time"),
        ]

    def __str__(self):
        return f"{self.request_id} {self.route} {self.status}"


class UsageDeadLetter(models.Model):
    """A usage event the ledger could not take (malformed, or refused by the database), with why.

    The batch it came in is written without it and acknowledged, so it blocks no other event.
    Inspect and replay with `manage.py usage_dead_letters`; a replayed event that is written
    leaves this table in the same transaction, so it is never counted twice.
    """

    # The event's id; for an event without a readable one, the SHA-256 of its JSON. Unique: a
    # redelivered bad event is dead-lettered once.
    event_id = models.CharField(max_length=64, unique=True)
    tenant_id = models.BigIntegerField(null=True)  # the event's tenant, when it names one: to find its letters
    # The event as ASCII JSON: NUL, lone surrogates and any length survive the escape.
    event = models.TextField()
    error = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.event_id} {self.error[:80]}"


# Alert channels, events, deliveries and settings live in their own module (billing/alerts/).
from billing.models_alerts import (  # noqa: E402, F401
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertKind,
    AlertSettings,
    BudgetSpendSnapshot,
)

# Repairs of budget counters by the reconcile job (billing/budgets.py).
from billing.models_budgets import BudgetReconciliation  # noqa: E402,F401

# Price overrides with effective dates, re-rating runs and their adjustments (issue 5 item 1).
from billing.models_prices import PriceOverride, RatingAdjustment, RerateRun  # noqa: E402,F401
