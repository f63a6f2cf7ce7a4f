from rest_framework.routers import DefaultRouter

from billing import alerts_api
from billing import api as prices_api
from gateway.api import cache_views, variants, views

router = DefaultRouter()
router.register("tenants", views.TenantApi, basename="tenant")
router.register("teams", views.TeamApi, basename="team")
router.register("memberships", views.MembershipApi, basename="membership")
router.register("keys", views.ApiKeyApi, basename="key")
router.register("providers", views.ProviderApi, basename="provider")
router.register("routes", views.RouteApi, basename="route")
router.register("budgets", views.BudgetApi, basename="budget")
router.register("audit-events", views.AuditEventApi, basename="audit-event")
router.register("price-overrides", prices_api.PriceOverrideApi, basename="price-override")
router.register("prices", prices_api.PriceApi, basename="price")
router.register("alert-channels", alerts_api.AlertChannelApi, basename="alert-channel")
router.register("alert-settings", alerts_api.AlertSettingsApi, basename="alert-settings")
router.register("alerts", alerts_api.AlertEventApi, basename="alert")
router.register("route-caches", cache_views.RouteCacheApi, basename="route-cache")
router.register("route-variants", variants.RouteVariantsApi, basename="route-variants")

urlpatterns = router.urls
