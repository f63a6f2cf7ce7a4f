"""Admin REST API: tenants, teams, members, keys, providers, routes, budgets, audit."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.alerts_api import BudgetStatusMixin
from billing.models import Budget
from gateway.api import serializers as s
from gateway.api.base import ADMINS, DUPLICATE, TenantScopedViewSet
from gateway.api.fields import is_id
from gateway.api.permissions import access_for
from gateway.models import (
    ApiKey,
    AuditEvent,
    Membership,
    Provider,
    Role,
    Route,
    RouteFallback,
    RouteTarget,
    Team,
    Tenant,
)
from gateway.services.keys import key_create, key_revoke, key_rotate
from gateway.services.members import membership_upsert
from gateway.services.routes import route_save


class TenantApi(TenantScopedViewSet):
    queryset = Tenant.objects.all()
    serializer_class = s.TenantSerializer
    tenant_field = "id"

    def object_tenant_id(self, obj):
        return obj.pk

    def write_roles_for(self, request):
        # Only owners may delete a tenant; creating one is for platform superusers.
        return (Role.OWNER,) if request.method == "DELETE" else ADMINS

    def check_create_allowed(self, serializer):
        access = access_for(self.request)
        if not (access.is_superuser and access.only_tenant_id is None):
            raise exceptions.PermissionDenied("only platform administrators create tenants")


class TeamApi(TenantScopedViewSet):
    queryset = Team.objects.select_related("tenant")
    serializer_class = s.TeamSerializer


class MembershipApi(TenantScopedViewSet):
    queryset = Membership.objects.select_related("user", "tenant", "team")
    serializer_class = s.MembershipSerializer

    def _guard_owner_role(self, tenant_id, *roles):
        if Role.OWNER in roles and not access_for(self.request).has_role(tenant_id, (Role.OWNER,)):
            raise exceptions.PermissionDenied("only owners grant or change the owner role")

    def perform_create(self, serializer):
        self.check_create_allowed(serializer)
        data = serializer.validated_data
        self._guard_owner_role(data["tenant"].pk, data.get("role", Role.DEVELOPER))
        if Membership.objects.filter(tenant=data["tenant"], user__email=data["user"]["email"].lower()).exists():
            raise exceptions.ValidationError({"email": ["already a member of this tenant"]})
        membership = membership_upsert(
            tenant=data["tenant"], email=data["user"]["email"], role=data.get("role", Role.DEVELOPER),
            team=data.get("team"),
        )
        if data.get("limits"):
            membership.limits = data["limits"]
            membership.save(update_fields=["limits"])
        serializer.instance = membership

    def perform_update(self, serializer):
        instance = serializer.instance
        self._guard_owner_role(instance.tenant_id, instance.role, serializer.validated_data.get("role"))
        serializer.validated_data.pop("user", None)
        self.save_cleanly(serializer)

    def perform_destroy(self, instance):
        self._guard_owner_role(instance.tenant_id, instance.role)
        instance.delete()


class ProviderApi(TenantScopedViewSet):
    queryset = Provider.objects.all()
    serializer_class = s.ProviderSerializer
    allow_global = True


@extend_schema_view(create=extend_schema(responses={201: s.ApiKeyCreatedSerializer}))
class ApiKeyApi(TenantScopedViewSet):
    """Developers manage their own keys; owners and admins every key of the tenant (finance reads them)."""

    queryset = ApiKey.objects.select_related("tenant").prefetch_related("routes")
    serializer_class = s.ApiKeySerializer
    write_roles = (*ADMINS, Role.DEVELOPER)

    def get_queryset(self):
        # Developers and viewers read their own keys only; others' answer 404 like other tenants'.
        condition = access_for(self.request).key_filter()
        queryset = super().get_queryset()
        return queryset if condition is None else queryset.filter(condition)

    def may_write(self, request, obj):
        access = access_for(request)
        if access.has_role(obj.tenant_id, ADMINS):
            return True
        return access.has_role(obj.tenant_id, (Role.DEVELOPER,)) and obj.owner_id == request.user.pk

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_create_allowed(serializer)
        data = serializer.validated_data
        owner = data.get("owner") or request.user
        if not access_for(request).has_role(data["tenant"].pk, ADMINS) and owner != request.user:
            raise exceptions.PermissionDenied("developers create keys for themselves only")
        if ApiKey.objects.filter(tenant=data["tenant"], name=data["name"], revoked_at__isnull=True).exists():
            raise exceptions.ValidationError({"name": ["a live key with this name exists"]})
        key, secret = key_create(
            tenant=data["tenant"], name=data["name"], owner=owner, team=data.get("team"),
            routes=data.get("routes", []), limits=data.get("limits"), expires_at=data.get("expires_at"),
        )
        key.secret = secret
        return Response(s.ApiKeyCreatedSerializer(key, context=self.get_serializer_context()).data, status=201)

    @extend_schema(request=s.KeyRotateSerializer, responses={201: s.ApiKeyCreatedSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        key = self.get_object()
        params = s.KeyRotateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        if key.revoked_at is not None:
            raise exceptions.ValidationError({"non_field_errors": ["a revoked key cannot be rotated"]})
        new, secret = key_rotate(key, grace_seconds=params.validated_data["grace_seconds"])
        new.secret = secret
        return Response(s.ApiKeyCreatedSerializer(new, context=self.get_serializer_context()).data, status=201)

    @extend_schema(request=None, responses={200: s.ApiKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = key_revoke(self.get_object())
        return Response(self.get_serializer(key).data)


class RouteApi(TenantScopedViewSet):
    queryset = Route.objects.prefetch_related(
        Prefetch("targets", queryset=RouteTarget.objects.order_by("position", "id")),
        Prefetch("fallback_links", queryset=RouteFallback.objects.order_by("position")),
    )
    serializer_class = s.RouteSerializer
    allow_global = True

    def save_cleanly(self, serializer, **kwargs):
        data = dict(serializer.validated_data)
        targets, fallbacks = data.pop("targets", None), data.pop("fallbacks", None)
        route = serializer.instance or Route()
        for field, value in data.items():
            setattr(route, field, value)
        if targets is not None:
            targets = [(t["provider"], t["model"], t["weight"], t.get("limits", {})) for t in targets]
        try:
            serializer.instance = route_save(route, targets=targets, fallbacks=fallbacks)
        except IntegrityError:  # a concurrent save took the name: as save_cleanly answers it
            raise exceptions.ValidationError({"non_field_errors": [DUPLICATE]}) from None
        except (DjangoValidationError, ValueError) as exc:
            detail = getattr(exc, "message_dict", {"non_field_errors": [str(exc)]})
            raise exceptions.ValidationError(detail) from None


class BudgetApi(BudgetStatusMixin, TenantScopedViewSet):
    queryset = Budget.objects.select_related("tenant")
    serializer_class = s.BudgetSerializer
    write_roles = (*ADMINS, Role.FINANCE)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("tenant", int),
            OpenApiParameter("object_type", str),
            OpenApiParameter("action", str),
        ]
    )
)
class AuditEventApi(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The audit log of the caller's tenants (owners, admins and finance)."""

    queryset = AuditEvent.objects.all()
    serializer_class = s.AuditEventSerializer
    permission_classes = [permissions.IsAuthenticated]
    readers = (*ADMINS, Role.FINANCE)

    def get_queryset(self):
        access = access_for(self.request)
        queryset = super().get_queryset()
        if not (access.is_superuser and access.only_tenant_id is None):
            queryset = queryset.filter(tenant_id__in=[t for t, r in access.roles.items() if r in self.readers])
        params = self.request.query_params
        for name in ("tenant", "object_type", "action"):
            if params.get(name):
                if name == "tenant" and not is_id(params[name]):
                    raise exceptions.ValidationError({"tenant": ["must be a tenant id"]})
                queryset = queryset.filter(**{f"{name}_id" if name == "tenant" else name: params[name]})
        return queryset


__all__ = ["status"]
