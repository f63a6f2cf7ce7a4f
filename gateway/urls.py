from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:home", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("gateway.api.urls")),
    # Finance reports are plain views (no router resource); their isolation tests are explicit.
    path("api/v1/", include("billing.reports.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("console/", include("gateway.console.urls")),
    path("portal/", include("portal.urls")),
    path("django-admin/", admin.site.urls),
]
