from rest_framework.routers import DefaultRouter

from gateway.api import views

router = DefaultRouter()
router.register("tenants", views.TenantApi, basename="tenant")
router.register("teams", views.TeamApi, basename="team")
router.register("memberships", views.MembershipApi, basename="membership")
router.register("keys", views.ApiKeyApi, basename="key")
router.register("providers", views.ProviderApi, basename="provider")
router.register("routes", views.RouteApi, basename="route")
router.register("budgets", views.BudgetApi, basename="budget")
router.register("audit-events", views.AuditEventApi, basename="audit-event")

urlpatterns = router.urls
