"""Alerts: where they go (channels), what was decided (events) and how it went (deliveries).

An AlertEvent row is the promise "this alert was sent once": it is unique per
budget, period, kind and threshold (or per tenant, subject and day for spend
anomalies), and it is created in the same transaction as its deliveries, so a
second evaluation finds it and sends nothing. Deliveries are retried on their
own rows; a retry never creates a second event.
"""
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from gateway.crypto import EncryptedTextField


class AlertKind(models.TextChoices):
    THRESHOLD = "threshold"  # a budget passed one of its alert thresholds
    ANOMALY = "anomaly"  # a day's spend far above its trailing average


class AlertChannel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email"
        SLACK = "slack"  # Slack-compatible incoming webhook: POST {"text": ...}
        WEBHOOK = "webhook"  # generic JSON webhook, HMAC-SHA256 signed

    tenant = models.ForeignKey("gateway.Tenant", on_delete=models.CASCADE, related_name="alert_channels")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # E-mail addresses (comma-separated) or a URL. Encrypted because Slack-style
    # webhook URLs carry their credential in the path.
    target = EncryptedTextField()
    # Signs generic webhooks; write-only in the API.
    secret = EncryptedTextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    # Empty: every budget of the tenant.
    budgets = models.ManyToManyField("billing.Budget", blank=True, related_name="alert_channels")
    # Empty: every alert kind.
    alert_kinds = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="alert_channel_unique_name")]

    def __str__(self):
        return f"{self.tenant_id}:{self.kind}:{self.name}"

    def receives(self, kind, budget_id=None):
        if not self.enabled or (self.alert_kinds and kind not in self.alert_kinds):
            return False
        if budget_id is None:  # anomalies belong to no budget
            return True
        wanted = [b.pk for b in self.budgets.all()]
        return not wanted or budget_id in wanted


class AlertSettings(models.Model):
    """Per-tenant spend-anomaly rule; a tenant without a row uses these defaults."""

    tenant = models.OneToOneField("gateway.Tenant", on_delete=models.CASCADE, related_name="alert_settings")
    anomaly_enabled = models.BooleanField(default=True)
    # Today's spend must exceed this many times the trailing daily mean ...
    anomaly_multiplier = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("3"), validators=[MinValueValidator(Decimal("1"))]
    )
    # ... and this absolute amount, so a key going from 1 to 4 cents stays quiet.
    anomaly_min_usd = models.DecimalField(
        max_digits=14, decimal_places=6, default=Decimal("10"), validators=[MinValueValidator(0)]
    )
    # Days of history averaged (whole days before today, in the tenant's time zone).
    anomaly_window_days = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(90)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id"]
        verbose_name_plural = "alert settings"

    def __str__(self):
        return f"alert settings of tenant {self.tenant_id}"


class AlertEvent(models.Model):
    tenant = models.ForeignKey("gateway.Tenant", on_delete=models.CASCADE, related_name="alert_events")
    kind = models.CharField(max_length=10, choices=AlertKind.choices)
    budget = models.ForeignKey(
        "billing.Budget", null=True, blank=True, on_delete=models.CASCADE, related_name="alert_events"
    )
    threshold = models.PositiveSmallIntegerField(default=0)  # percent; 0 for anomalies
    # "budget", "tenant" or "key:<id>": whose spend the alert is about.
    subject = models.CharField(max_length=40)
    # Start of the budget period (or of the anomalous day), in UTC.
    period_start = models.DateTimeField()
    spent_usd = models.DecimalField(max_digits=20, decimal_places=6)
    # A higher threshold crossed in the same run was sent instead of this one.
    superseded = models.BooleanField(default=False)
    message = models.TextField()
    # Everything the channels render, frozen when decided so retries send the same words.
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"], name="alert_event_tenant_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "kind", "threshold"],
                condition=Q(budget__isnull=False),
                name="alert_event_once_per_threshold",
            ),
            models.UniqueConstraint(
                fields=["tenant", "kind", "subject", "period_start"],
                condition=Q(budget__isnull=True),
                name="alert_event_once_per_subject_day",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.subject} {self.threshold}% {self.period_start:%Y-%m-%d}"


class AlertDelivery(models.Model):
    """One event to one channel: attempted until sent or out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        SENT = "sent"
        FAILED = "failed"  # gave up; the error says why

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    # Kept (null) when the channel is deleted so the history still reads.
    channel = models.ForeignKey(AlertChannel, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    channel_kind = models.CharField(max_length=8, choices=AlertChannel.Kind.choices)
    channel_name = models.CharField(max_length=100)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True)
    sent_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_delivery_due")]
        constraints = [models.UniqueConstraint(fields=["event", "channel"], name="alert_delivery_once")]

    def __str__(self):
        return f"event {self.event_id} -> {self.channel_name}: {self.status}"


class BudgetSpendSnapshot(models.Model):
    """A budget's spend in its current period, as computed by the last evaluation.

    The status API reads this instead of summing the ledger on a request path.
    """

    budget = models.OneToOneField("billing.Budget", primary_key=True, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(null=True)  # None: a total budget never resets
    spent_usd = models.DecimalField(max_digits=20, decimal_places=6)
    computed_at = models.DateTimeField()

    def __str__(self):
        return f"budget {self.budget_id}: {self.spent_usd} USD at {self.computed_at:%Y-%m-%d %H:%M}"
