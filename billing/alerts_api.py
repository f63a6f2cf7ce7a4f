"""Admin API for alerts: channels and settings (owner/admin/finance), history, budget status."""
from __future__ import annotations

from datetime import timezone as dt_timezone
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from redis.exceptions import RedisError
from rest_framework import exceptions, mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.alerts import serializers as s
from billing.alerts.status import budget_state_from_snapshot
from billing.models import AlertChannel, AlertEvent, AlertKind, AlertSettings
from gateway.api.base import ADMINS, TenantScopedViewSet
from gateway.api.fields import is_id
from gateway.api.permissions import access_for
from gateway.models import Role

MANAGERS = (*ADMINS, Role.FINANCE)


class AlertChannelApi(TenantScopedViewSet):
    queryset = AlertChannel.objects.select_related("tenant").prefetch_related("budgets")
    serializer_class = s.AlertChannelSerializer
    write_roles = MANAGERS


class AlertSettingsApi(TenantScopedViewSet):
    """The tenant's spend-anomaly rule; without a row the documented defaults apply."""

    queryset = AlertSettings.objects.select_related("tenant")
    serializer_class = s.AlertSettingsSerializer
    write_roles = MANAGERS


FILTERS = {"tenant": "tenant_id", "budget": "budget_id", "kind": "kind", "threshold": "threshold"}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("tenant", int),
            OpenApiParameter("budget", int),
            OpenApiParameter("kind", str, enum=AlertKind.values),
            OpenApiParameter("threshold", int),
            OpenApiParameter("since", str, description="ISO 8601 date-time, inclusive"),
            OpenApiParameter("until", str, description="ISO 8601 date-time, exclusive"),
        ]
    )
)
class AlertEventApi(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alert history of the caller's tenants, newest first, with each channel's delivery."""

    queryset = AlertEvent.objects.prefetch_related("deliveries")
    serializer_class = s.AlertEventSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        queryset = super().get_queryset()
        scope = access_for(self.request).tenant_filter("tenant_id")
        if scope is not None:
            queryset = queryset.filter(**scope)
        return self.filter_params(queryset, self.request.query_params)

    @staticmethod
    def filter_params(queryset, params):
        for name, column in FILTERS.items():
            value = params.get(name)
            if value and name != "kind" and not is_id(value):
                raise exceptions.ValidationError({name: ["must be a number"]})
            if value:
                queryset = queryset.filter(**{column: value})
        for name, lookup in (("since", "created_at__gte"), ("until", "created_at__lt")):
            if params.get(name):
                moment = parse_datetime(params[name])
                if moment is None:
                    raise exceptions.ValidationError({name: ["must be an ISO 8601 date-time"]})
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment, dt_timezone.utc)
                queryset = queryset.filter(**{lookup: moment})
        return queryset


@lru_cache(maxsize=2)
def _redis(url):
    import redis

    # A status read must not hang on Redis: without an answer it reports "reserved unknown".
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def reserved_usd(budget) -> Decimal | None:
    """Held by in-flight calls, from the reservation counters (billing/budgets.py).

    None when unknown: embedded counters live in each server process, so no
    single process can report them, and a Redis outage must not fail the read.
    """
    if not settings.REDIS_URL:
        return None
    from billing.budgets import budget_status
    from gateway.dataplane.budgets.money import micro_to_usd
    from gateway.dataplane.budgets.store import SyncRedisCounters

    try:
        return micro_to_usd(budget_status(budget, SyncRedisCounters(_redis(settings.REDIS_URL))).reserved_micro)
    except (RedisError, OSError):
        return None


def budget_status_data(budget, now=None) -> dict:
    state = budget_state_from_snapshot(budget, now or timezone.now())
    alerted = AlertEvent.objects.filter(budget=budget, period_start=state.period_start, kind=AlertKind.THRESHOLD)
    return {
        "budget": budget.pk,
        "period": budget.period,
        "period_start": state.period_start,
        "period_end": state.period_end,
        "amount_usd": state.amount,
        "spent_usd": state.spent,
        "reserved_usd": reserved_usd(budget),
        "remaining_usd": state.remaining,
        "percent": state.percent,
        "burn_per_day_usd": state.forecast.burn_per_day_usd,
        "forecast_exhaustion_date": state.forecast_date(),
        "alert_thresholds": sorted(budget.alert_thresholds or []),
        "alerted_thresholds": sorted(alerted.values_list("threshold", flat=True)),
        "as_of": state.as_of,
    }


# Adds GET budgets/{id}/status/ to the budget viewset (gateway/api/views.py). No docstring:
# drf-spectacular would take it as the description of every budget operation.
class BudgetStatusMixin:
    @extend_schema(
        responses={200: s.BudgetStatusSerializer},
        description="Spend of the current period (as of the last alert evaluation, at most a minute old), "
        "what in-flight calls hold, and the date the budget runs out at the current burn rate.",
    )
    @action(detail=True, methods=["get"], url_path="status", url_name="status")
    def spend_status(self, request, pk=None):
        data = budget_status_data(self.get_object())
        return Response(s.BudgetStatusSerializer(data).data)
