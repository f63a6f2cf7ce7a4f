"""Routes: the public model name a client sends, mapped to weighted targets."""
from django.core.validators import MinValueValidator
from django.db import models

from gateway.models.providers import Provider, name_validator
from gateway.models.tenants import Tenant


class Route(models.Model):
    """tenant=None: offered to every tenant (a tenant route of the same name wins)."""

    class Strategy(models.TextChoices):
        WEIGHTED = "weighted"
        ROUND_ROBIN = "round_robin"
        LEAST_INFLIGHT = "least_inflight"
        LOWEST_LATENCY = "lowest_latency"
        LOWEST_COST = "lowest_cost"

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="routes")
    name = models.CharField(max_length=100, validators=[name_validator])
    description = models.CharField(max_length=500, blank=True)
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.WEIGHTED)
    # {"connect": s, "first_byte": s, "total": s, "idle": s}
    timeouts = models.JSONField(default=dict, blank=True)
    # {"enabled": bool, "ttl": s}
    cache = models.JSONField(default=dict, blank=True)
    # {"rpm": int, "tpm": int, "max_parallel": int}
    limits = models.JSONField(default=dict, blank=True)
    # {"max_retries", "backoff_ms", "max_backoff_ms", "retry_on": [...]}: retries before falling back.
    retry = models.JSONField(default=dict, blank=True)
    # {"failures", "error_rate", "window_s", "cooldown_s"}: per-target circuit breaker settings.
    breaker = models.JSONField(default=dict, blank=True)
    # {"sticky": "key"|"user"|None}: canary / A-B split over the targets' weights.
    canary = models.JSONField(default=dict, blank=True)
    # Upper bound applied to a request's max_tokens (None: no cap).
    max_tokens_cap = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="route_unique_name"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(tenant__isnull=True), name="route_unique_global_name"),
        ]

    def __str__(self):
        return self.name


class RouteTarget(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="targets")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="targets")
    model = models.CharField(max_length=200)
    weight = models.PositiveIntegerField(default=1, validators=[MinValueValidator(0)])
    position = models.PositiveSmallIntegerField(default=0)
    # {"rpm", "tpm", "max_parallel"}: stay inside this deployment's own provider quota.
    limits = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["route_id", "position", "id"]

    def __str__(self):
        return f"{self.route.name} -> {self.provider.name}:{self.model}"


class RouteFallback(models.Model):
    """Ordered fallbacks: on failure, `route` is retried as `fallback`."""

    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="fallback_links")
    fallback = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["route_id", "position"]
        constraints = [models.UniqueConstraint(fields=["route", "fallback"], name="route_fallback_unique")]
