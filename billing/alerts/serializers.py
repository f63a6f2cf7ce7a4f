"""API shapes of alert channels, settings, history and budget status. Secrets are write-only."""
from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator, validate_email
from rest_framework import serializers

from billing.alerts.channels import email_addresses
from billing.models import AlertChannel, AlertDelivery, AlertEvent, AlertKind, AlertSettings, Budget
from gateway.api.fields import ScopedRelatedField, same_tenant
from gateway.models import Tenant

# A shared secret shorter than this is guessable by a receiver's attacker.
MIN_SECRET_LENGTH = 16
# An alert mailing list, not a newsletter: keeps one failure from hiding in a long list.
MAX_RECIPIENTS = 20
url_validator = URLValidator(schemes=["http", "https"])


def masked_target(channel: AlertChannel) -> str:
    """E-mail addresses as they are; URLs down to scheme and host (their path may be a token)."""
    if channel.kind == AlertChannel.Kind.EMAIL:
        return channel.target
    parts = urlsplit(channel.target)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"  # never user:password@


def target_errors(kind: str, target: str) -> str | None:
    if kind == AlertChannel.Kind.EMAIL:
        addresses = email_addresses(target)
        if not addresses or len(addresses) > MAX_RECIPIENTS:
            return f"give 1 to {MAX_RECIPIENTS} comma-separated e-mail addresses"
        validate = validate_email
    else:
        addresses, validate = [target], url_validator
    try:
        for address in addresses:
            validate(address)
    except DjangoValidationError:
        return "not a valid e-mail address" if kind == AlertChannel.Kind.EMAIL else "not a valid http(s) URL"
    return None


class AlertChannelSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id")
    target = serializers.CharField(
        max_length=2000, help_text="E-mail addresses (comma-separated) or the webhook URL; URLs are shown masked."
    )
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, min_length=MIN_SECRET_LENGTH, max_length=200,
        help_text="Signs generic webhooks (HMAC-SHA256); stored encrypted, never shown again.",
    )
    has_secret = serializers.SerializerMethodField()
    budgets = ScopedRelatedField(queryset=Budget.objects.all(), many=True, required=False)
    alert_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=AlertKind.choices), required=False,
        help_text="Empty: every kind.",
    )

    class Meta:
        model = AlertChannel
        fields = [
            "id", "tenant", "name", "kind", "target", "secret", "has_secret", "enabled", "budgets", "alert_kinds",
            "created_at", "updated_at",
        ]
        validators = []  # uniqueness is reported by the view as a clean 400

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secret)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["target"] = masked_target(instance)
        return data

    def validate(self, attrs):
        instance = self.instance
        tenant = instance.tenant if instance else attrs.get("tenant")
        if instance is not None:
            attrs.pop("tenant", None)
            if attrs.get("target") == masked_target(instance):
                attrs.pop("target")  # the masked value read back: keep the stored one
        errors = same_tenant({}, tenant, budgets=attrs.get("budgets", []))
        kind = attrs.get("kind", instance.kind if instance else None)
        target = attrs.get("target", instance.target if instance else "")
        if problem := target_errors(kind, target):
            errors["target"] = problem
        secret = attrs.get("secret", instance.secret if instance else "")
        if kind == AlertChannel.Kind.WEBHOOK and not secret:
            errors["secret"] = "required for webhook channels (receivers verify the signature with it)"
        if errors:
            raise serializers.ValidationError(errors)
        attrs["alert_kinds"] = sorted(set(attrs.get("alert_kinds", instance.alert_kinds if instance else [])))
        return attrs


class AlertSettingsSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id")

    class Meta:
        model = AlertSettings
        fields = [
            "id", "tenant", "anomaly_enabled", "anomaly_multiplier", "anomaly_min_usd", "anomaly_window_days",
            "created_at", "updated_at",
        ]

    def validate(self, attrs):
        if self.instance is not None:
            attrs.pop("tenant", None)  # settings never move between tenants
        return attrs


class AlertDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertDelivery
        fields = [
            "id", "channel", "channel_kind", "channel_name", "status", "attempts", "last_error", "next_attempt_at",
            "sent_at", "created_at", "updated_at",
        ]


class AlertEventSerializer(serializers.ModelSerializer):
    deliveries = AlertDeliverySerializer(many=True, read_only=True)

    class Meta:
        model = AlertEvent
        fields = [
            "id", "tenant", "kind", "budget", "threshold", "subject", "period_start", "spent_usd", "superseded",
            "message", "payload", "created_at", "deliveries",
        ]


class BudgetStatusSerializer(serializers.Serializer):
    budget = serializers.IntegerField()
    period = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(allow_null=True)
    amount_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    spent_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    reserved_usd = serializers.DecimalField(
        max_digits=20, decimal_places=6, allow_null=True, help_text="Held by in-flight calls; null if unknown."
    )
    remaining_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    percent = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    burn_per_day_usd = serializers.DecimalField(max_digits=20, decimal_places=6)
    forecast_exhaustion_date = serializers.DateField(
        allow_null=True, help_text="At the current burn rate, in the tenant's time zone; null: not this period."
    )
    alert_thresholds = serializers.ListField(child=serializers.IntegerField())
    alerted_thresholds = serializers.ListField(child=serializers.IntegerField())
    as_of = serializers.DateTimeField(help_text="When the spend was last computed from the ledger.")
