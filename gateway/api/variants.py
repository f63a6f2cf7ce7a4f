"""GET /api/v1/route-variants/[{route id}/]?since=&until=: per-variant figures of routes.

Read-only. Routes are scoped like `routes/` (the caller's tenants' routes plus
shared ones); ledger rows are scoped to the caller's tenants, so on a shared
route a tenant sees its own traffic only.
"""
from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, Q
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework.response import Response

from gateway.api.permissions import access_for
from gateway.models import Route, RouteTarget
from gateway.selectors.route_variants import route_variants

DEFAULT_WINDOW = timedelta(days=1)  # without `since`: the last day


class VariantSerializer(serializers.Serializer):
    provider_id = serializers.IntegerField()
    provider = serializers.CharField()
    model = serializers.CharField()
    weight = serializers.IntegerField(allow_null=True, help_text="null: no longer a target of the route")
    requests = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="answers with status >= 400, client disconnects excluded")
    error_rate = serializers.FloatField()
    latency_avg_ms = serializers.FloatField(allow_null=True)
    latency_p50_ms = serializers.FloatField(allow_null=True)
    latency_p95_ms = serializers.FloatField(allow_null=True)
    ttfb_avg_ms = serializers.FloatField(allow_null=True)
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost_usd = serializers.DecimalField(max_digits=20, decimal_places=12)


class RouteVariantsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    tenant = serializers.IntegerField(allow_null=True)
    strategy = serializers.CharField()
    canary = serializers.JSONField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField(allow_null=True)
    variants = VariantSerializer(many=True)


WINDOW = [
    OpenApiParameter("since", str, description="ISO date or datetime (default: 24 hours ago)"),
    OpenApiParameter("until", str, description="ISO date or datetime, exclusive (default: now)"),
]


@extend_schema_view(list=extend_schema(parameters=WINDOW), retrieve=extend_schema(parameters=WINDOW))
class RouteVariantsApi(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Requests, errors, latency and cost per provider/model of each route the caller can see."""

    queryset = Route.objects.prefetch_related(
        Prefetch("targets", queryset=RouteTarget.objects.select_related("provider").order_by("position", "id")),
    ).order_by("id")
    serializer_class = RouteVariantsSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        scope = access_for(self.request).tenant_filter("tenant_id")
        queryset = super().get_queryset()
        return queryset if scope is None else queryset.filter(Q(**scope) | Q(tenant__isnull=True))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._figures(page))

    def retrieve(self, request, *args, **kwargs):
        return Response(self._figures([self.get_object()])[0])

    def _figures(self, routes):
        since, until = _moment(self.request, "since"), _moment(self.request, "until")
        since = since or datetime.now(UTC) - DEFAULT_WINDOW
        scope = access_for(self.request).tenant_filter("tenant_id")
        figures = route_variants(routes, since=since, until=until, tenant_ids=scope and scope["tenant_id__in"])
        rows = [
            {"id": r.pk, "name": r.name, "tenant": r.tenant_id, "strategy": r.strategy, "canary": r.canary,
             "since": since, "until": until, "variants": figures[r.pk]}
            for r in routes
        ]
        return RouteVariantsSerializer(rows, many=True).data


def _moment(request, name):
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
        if value is None and (day := parse_date(raw)) is not None:
            value = datetime(day.year, day.month, day.day)
    except ValueError:  # well formed but impossible, e.g. month 13
        value = None
    if value is None:
        raise exceptions.ValidationError({name: ["must be an ISO 8601 date or datetime"]})
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value  # naive means UTC
