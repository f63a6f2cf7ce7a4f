"""Price API: overrides (CRUD), the prices in force per route, and the genai-prices catalogue.

Registered in gateway/api/urls.py as `price-overrides` and `prices`.
"""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, Q
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework.decorators import action

from billing.catalogue import catalogue_entries
from billing.models import PriceOverride
from billing.prices.quote import Quoter
from billing.prices.services import price_override_delete, price_override_save
from gateway.api.base import ADMINS, TenantScopedViewSet
from gateway.api.fields import ScopedRelatedField, is_id
from gateway.api.permissions import access_for
from gateway.models import Provider, Role, Route, RouteTarget, Tenant


def _drf_error(exc: DjangoValidationError):
    return exceptions.ValidationError(getattr(exc, "message_dict", None) or {"non_field_errors": exc.messages})


class PriceOverrideSerializer(serializers.ModelSerializer):
    tenant = ScopedRelatedField(queryset=Tenant.objects.all(), tenant_field="id", allow_null=True, required=False)
    route = ScopedRelatedField(queryset=Route.objects.all(), allow_global=True, allow_null=True, required=False)
    provider = ScopedRelatedField(queryset=Provider.objects.all(), allow_global=True)
    scope = serializers.CharField(read_only=True, help_text="tenant+route, route, tenant+provider or provider")
    version = serializers.CharField(read_only=True, help_text="the price_version stamped on ledger rows it prices")

    class Meta:
        model = PriceOverride
        fields = [
            "id", "tenant", "route", "provider", "model", "unit", "input_per_mtok", "output_per_mtok",
            "cached_input_per_mtok", "cache_write_per_mtok", "per_hour_usd", "valid_from", "valid_to", "note",
            "revision", "scope", "version", "created_at", "updated_at",
        ]
        read_only_fields = ["revision", "created_at", "updated_at"]

    def validate(self, attrs):
        if self.instance is not None:
            attrs.pop("tenant", None)  # an override never moves between tenants
        return attrs


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("tenant", int), OpenApiParameter("provider", int), OpenApiParameter("route", int),
    OpenApiParameter("model", str), OpenApiParameter("at", str, description="ISO time: only overrides in force then"),
]))
class PriceOverrideApi(TenantScopedViewSet):
    """Negotiated and self-hosted prices. A tenant's owners, admins and finance manage its overrides;
    shared ones (tenant null) are for platform superusers. A price that has priced calls cannot be
    deleted (end it with valid_to); editing one bumps its revision, and `manage.py rerate` re-prices history."""

    queryset = PriceOverride.objects.select_related("tenant", "route", "provider")
    serializer_class = PriceOverrideSerializer
    allow_global = True
    write_roles = (*ADMINS, Role.FINANCE)

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        for name in ("tenant", "provider", "route"):
            if params.get(name):
                if not is_id(params[name]):
                    raise exceptions.ValidationError({name: [f"must be a {name} id"]})
                queryset = queryset.filter(**{f"{name}_id": params[name]})
        if params.get("model"):
            queryset = queryset.filter(model=params["model"])
        if params.get("at"):
            at = parse_datetime(params["at"])
            if at is None:
                raise exceptions.ValidationError({"at": ["must be an ISO 8601 date and time"]})
            queryset = queryset.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at), valid_from__lte=at)
        return queryset

    def save_cleanly(self, serializer, **kwargs):
        override = serializer.instance or PriceOverride()
        for name, value in serializer.validated_data.items():
            setattr(override, name, value)
        try:
            serializer.instance = price_override_save(override)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None

    def perform_destroy(self, instance):
        try:
            price_override_delete(instance)
        except DjangoValidationError as exc:
            raise _drf_error(exc) from None


class TargetPriceSerializer(serializers.Serializer):
    provider = serializers.IntegerField()
    provider_name = serializers.CharField()
    model = serializers.CharField()
    unit = serializers.CharField(help_text="token, or hour (calls cost 0 in the ledger)")
    input_per_mtok = serializers.CharField(allow_null=True)
    output_per_mtok = serializers.CharField(allow_null=True)
    cached_input_per_mtok = serializers.CharField(allow_null=True)
    cache_write_per_mtok = serializers.CharField(allow_null=True)
    per_hour_usd = serializers.CharField(allow_null=True)
    source = serializers.CharField(allow_null=True, help_text="the price_version calls are stamped with")
    override = serializers.IntegerField(allow_null=True)
    valid_to = serializers.DateTimeField(allow_null=True)


class RoutePricesSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    tenant = serializers.IntegerField(allow_null=True)
    priced_for_tenant = serializers.IntegerField(allow_null=True)
    targets = TargetPriceSerializer(many=True)


class CatalogueEntrySerializer(serializers.Serializer):
    provider = serializers.CharField(help_text="genai-prices provider id")
    provider_name = serializers.CharField()
    model = serializers.CharField()
    name = serializers.CharField()
    context_window = serializers.IntegerField(allow_null=True)
    deprecated = serializers.BooleanField()
    input_per_mtok = serializers.CharField()
    output_per_mtok = serializers.CharField()
    cached_input_per_mtok = serializers.CharField(allow_null=True)
    cache_write_per_mtok = serializers.CharField(allow_null=True)
    tiered = serializers.BooleanField(help_text="long prompts cost more; the base tier is used")
    source = serializers.CharField()


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("tenant", int, description="price shared routes for this tenant")]),
    retrieve=extend_schema(parameters=[OpenApiParameter("tenant", int)]),
)
class PriceApi(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The prices in force now for each route the caller can see, per target (read-only).

    A tenant's route is priced for its tenant; a shared route for `?tenant=` if given, else without
    tenant overrides. `catalogue/` lists the genai-prices catalogue.
    """

    queryset = Route.objects.prefetch_related(
        Prefetch("targets", queryset=RouteTarget.objects.select_related("provider").order_by("position", "id"))
    )
    serializer_class = RoutePricesSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        scope = access_for(self.request).tenant_filter("tenant_id")
        queryset = super().get_queryset()
        return queryset if scope is None else queryset.filter(Q(**scope) | Q(tenant__isnull=True))

    def get_serializer(self, instance=None, *args, **kwargs):
        if instance is not None:
            routes = instance if kwargs.get("many") else [instance]
            priced = self._priced(routes)
            instance = priced if kwargs.get("many") else priced[0]
        return super().get_serializer(instance, *args, **kwargs)

    def _tenant_param(self):
        value = self.request.query_params.get("tenant")
        if not value:
            return None
        access = access_for(self.request)
        if not is_id(value) or access.role(int(value)) is None:
            raise exceptions.ValidationError({"tenant": ["not a tenant you belong to"]})
        return int(value)

    def _priced(self, routes):
        quoter, shared_for = Quoter(), self._tenant_param()
        rows = []
        for route in routes:
            tenant_id = route.tenant_id if route.tenant_id is not None else shared_for
            targets = [quoter.quote(tenant_id, route, t) for t in route.targets.all()]
            rows.append({"id": route.pk, "name": route.name, "tenant": route.tenant_id,
                         "priced_for_tenant": tenant_id, "targets": targets})
        return rows

    @extend_schema(
        parameters=[OpenApiParameter("provider", str, description="genai-prices id or Switchyard kind"),
                    OpenApiParameter("model", str, description="a model name; aliases resolve as in routing")],
        responses={200: CatalogueEntrySerializer(many=True)},
    )
    @action(detail=False, methods=["get"], serializer_class=CatalogueEntrySerializer)
    def catalogue(self, request):
        """The genai-prices catalogue (bundled data), USD per million tokens, today's prices."""
        params = request.query_params
        entries = catalogue_entries(provider=params.get("provider"), model=params.get("model"))
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(CatalogueEntrySerializer(page, many=True).data)
