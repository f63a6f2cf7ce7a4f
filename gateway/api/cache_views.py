"""Admin API: a route's response cache (status, invalidation).

`GET /api/v1/route-caches/` and `/{route id}/`: the cache settings, current
generation and semantic entry count of each route the caller can see.
`POST /api/v1/route-caches/{route id}/invalidate/`: drop every cached answer
of the route. Admins and owners of the route's tenant only; shared routes
(no tenant) only platform superusers. Tenant-scoped like every endpoint:
another tenant's route is a 404.
"""
from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from gateway.api.base import ADMINS
from gateway.api.permissions import TenantRolePermission, access_for
from gateway.audit_context import set_actor
from gateway.models import Route
from gateway.services.cache import route_cache_invalidate, route_cache_status


class RouteCacheSerializer(serializers.ModelSerializer):
    route = serializers.CharField(source="name", read_only=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Route
        fields = ["id", "tenant", "route", "cache", "status"]
        read_only_fields = fields

    def get_status(self, route) -> dict:
        return route_cache_status(route)


class InvalidatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    generation = serializers.IntegerField()
    semantic_entries_deleted = serializers.IntegerField()


class RouteCacheApi(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Route.objects.all()
    serializer_class = RouteCacheSerializer
    permission_classes = [permissions.IsAuthenticated, TenantRolePermission]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.auth if hasattr(request.auth, "prefix") else None
        set_actor(request.user, f"{request.user.email} (key {key.prefix}…)" if key else None)

    def get_queryset(self):
        scope = access_for(self.request).tenant_filter("tenant_id")
        queryset = super().get_queryset()
        if scope is None:
            return queryset
        return queryset.filter(Q(**scope) | Q(tenant__isnull=True))  # shared routes are visible to all

    def write_roles_for(self, request):
        return ADMINS

    def may_write(self, request, route):
        access = access_for(request)
        if route.tenant_id is None:
            return access.is_superuser and access.only_tenant_id is None
        return access.has_role(route.tenant_id, ADMINS)

    @extend_schema(request=None, responses={200: InvalidatedSerializer})
    @action(detail=True, methods=["post"])
    def invalidate(self, request, pk=None):
        route = self.get_object()  # 404 outside the caller's tenants, then 403 without the role
        return Response({"id": route.pk, **route_cache_invalidate(route)})
