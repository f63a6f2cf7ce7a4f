"""Admin API serializers. Secrets are write-only and never serialised back."""
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from billing.models import Budget
from gateway.api.fields import ScopedRelatedField, SpecField, same_tenant
from gateway.models import ApiKey, AuditEvent, Membership, Provider, Role, Route, Team, Tenant
from gateway.services.config_schema import Breaker, Cache, Canary, Limits, Retry, Timeouts

User = get_user_model()


class TenantSerializer(serializers.ModelSerializer):
    limits = SpecField(Limits)

    class Meta:
        model = Tenant
        fields = ["id", "slug", "name", "time_zone", "limits", "created_at"]


class TeamSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id")
    limits = SpecField(Limits)

    class Meta:
        model = Team
        fields = ["id", "tenant", "name", "limits", "created_at"]
        validators = []  # uniqueness is reported by the view as a clean 400

    def validate(self, attrs):
        if self.instance is not None:
            attrs.pop("tenant", None)  # a team never moves between tenants
        return attrs


class MembershipSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id")
    email = serializers.EmailField(source="user.email")
    team = ScopedRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    limits = SpecField(Limits)

    class Meta:
        model = Membership
        fields = ["id", "tenant", "email", "user", "role", "team", "limits", "created_at"]
        read_only_fields = ["user"]
        validators = []

    def validate(self, attrs):
        tenant = self.instance.tenant if self.instance else attrs.get("tenant")
        if self.instance is not None:
            attrs.pop("tenant", None)
            if "user" in attrs and attrs["user"]["email"].lower() != self.instance.user.email:
                raise serializers.ValidationError({"email": "cannot change the member of a membership"})
        errors = same_tenant({}, tenant, team=attrs.get("team"))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ProviderSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id", allow_null=True, required=False)
    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    has_api_key = serializers.BooleanField(read_only=True)

    class Meta:
        model = Provider
        fields = [
            "id", "tenant", "name", "kind", "base_url", "api_key", "has_api_key", "headers", "options",
            "connect_timeout", "first_byte_timeout", "idle_timeout", "enabled", "created_at", "updated_at",
        ]
        validators = []

    def validate(self, attrs):
        if self.instance is not None:
            attrs.pop("tenant", None)
        current = self.instance or Provider()
        candidate = Provider(kind=attrs.get("kind", current.kind), base_url=attrs.get("base_url", current.base_url))
        try:
            candidate.clean()  # the save-time SSRF check, as the console's form runs it
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class RouteTargetSerializer(serializers.Serializer):
    provider = ScopedRelatedField(queryset=Provider.objects.all(), allow_global=True)
    model = serializers.CharField(max_length=200)
    weight = serializers.IntegerField(min_value=0, default=1)
    limits = SpecField(Limits)


class RouteSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id", allow_null=True, required=False)
    targets = RouteTargetSerializer(many=True, required=False)
    fallbacks = ScopedRelatedField(queryset=Route.objects.all(), allow_global=True, many=True, required=False)
    timeouts = SpecField(Timeouts)
    cache = SpecField(Cache)
    limits = SpecField(Limits)
    retry = SpecField(Retry)
    breaker = SpecField(Breaker)
    canary = SpecField(Canary)

    class Meta:
        model = Route
        fields = [
            "id", "tenant", "name", "description", "strategy", "targets", "fallbacks", "timeouts", "cache",
            "limits", "retry", "breaker", "canary", "max_tokens_cap", "enabled", "created_at", "updated_at",
        ]
        validators = []

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["targets"] = [
            {"provider": t.provider_id, "model": t.model, "weight": t.weight, "limits": t.limits}
            for t in instance.targets.all()
        ]
        data["fallbacks"] = [link.fallback_id for link in instance.fallback_links.all()]
        return data

    def validate(self, attrs):
        tenant = self.instance.tenant if self.instance else attrs.get("tenant")
        if self.instance is not None:
            attrs.pop("tenant", None)
        errors = {}
        providers = [t["provider"] for t in attrs.get("targets", [])]
        if tenant is None:
            if any(p.tenant_id is not None for p in providers):
                errors["targets"] = "a shared route may only target shared providers"
        else:
            same_tenant(errors, tenant, targets=providers, fallbacks=attrs.get("fallbacks", []))
        if self.instance is not None and any(f.pk == self.instance.pk for f in attrs.get("fallbacks", [])):
            errors["fallbacks"] = "a route cannot fall back to itself"
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ApiKeySerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id")
    team = ScopedRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    owner = ScopedRelatedField(
        queryset=User.objects.all(), tenant_field="memberships__tenant_id", allow_null=True, required=False
    )
    routes = ScopedRelatedField(queryset=Route.objects.all(), allow_global=True, many=True, required=False)
    limits = SpecField(Limits)
    masked = serializers.CharField(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id", "tenant", "name", "team", "owner", "routes", "limits", "expires_at", "revoked_at",
            "prefix", "masked", "created_at", "last_used_at",
        ]
        read_only_fields = ["revoked_at", "prefix", "created_at", "last_used_at"]
        validators = []

    def validate(self, attrs):
        tenant = self.instance.tenant if self.instance else attrs.get("tenant")
        if self.instance is not None:
            attrs.pop("tenant", None)
        errors = same_tenant({}, tenant, team=attrs.get("team"), routes=attrs.get("routes", []))
        owner = attrs.get("owner")
        if owner is not None and not owner.memberships.filter(tenant=tenant).exists():
            errors["owner"] = "must be a member of the key's tenant"
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ApiKeyCreatedSerializer(ApiKeySerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]


class KeyRotateSerializer(serializers.Serializer):
    grace_seconds = serializers.IntegerField(min_value=0, max_value=30 * 86400, default=0)


class BudgetSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id")
    team = ScopedRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    api_key = ScopedRelatedField(queryset=ApiKey.objects.all(), allow_null=True, required=False)
    user = ScopedRelatedField(
        queryset=User.objects.all(), tenant_field="memberships__tenant_id", allow_null=True, required=False
    )
    route = ScopedRelatedField(queryset=Route.objects.all(), allow_global=True, allow_null=True, required=False)
    downgrade_route = ScopedRelatedField(
        queryset=Route.objects.all(), allow_global=True, allow_null=True, required=False
    )
    alert_thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000), required=False
    )

    class Meta:
        model = Budget
        fields = [
            "id", "tenant", "scope", "team", "api_key", "user", "route", "amount_usd", "period", "action",
            "downgrade_route", "alert_thresholds", "created_at", "updated_at",
        ]

    def validate(self, attrs):
        tenant = self.instance.tenant if self.instance else attrs.get("tenant")
        if self.instance is not None:
            attrs.pop("tenant", None)
        related = {k: attrs.get(k) for k in ("team", "api_key", "route", "downgrade_route")}
        errors = same_tenant({}, tenant, **related)
        if errors:
            raise serializers.ValidationError(errors)
        fields = {**self._current(), **attrs}
        fields.pop("tenant", None)
        candidate = Budget(tenant=tenant, **fields)
        try:
            candidate.clean()
        except DjangoValidationError as exc:  # -> DRF's
            detail = getattr(exc, "message_dict", {"non_field_errors": exc.messages})
            raise serializers.ValidationError(detail) from None
        return attrs

    def _current(self):
        if self.instance is None:
            return {}
        fields = ("scope", "team", "api_key", "user", "route", "action", "downgrade_route")
        return {f: getattr(self.instance, f) for f in fields}


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "created_at", "actor", "actor_label", "tenant", "object_type", "object_id", "object_repr",
            "action", "before", "after",
        ]


__all__ = ["Role"]
