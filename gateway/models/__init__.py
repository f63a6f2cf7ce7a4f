from gateway.models.audit import AuditEvent
from gateway.models.cache import SemanticCacheEntry, SemanticShadowHit
from gateway.models.keys import ApiKey
from gateway.models.providers import Provider, ProviderKind
from gateway.models.routes import Route, RouteFallback, RouteTarget
from gateway.models.tenants import Membership, Role, Team, Tenant, User

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Membership",
    "Provider",
    "ProviderKind",
    "Role",
    "Route",
    "RouteFallback",
    "RouteTarget",
    "SemanticCacheEntry",
    "SemanticShadowHit",
    "Team",
    "Tenant",
    "User",
]
