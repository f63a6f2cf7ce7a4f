from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gateway.throttle import throttled_post


def healthz(request):
    return JsonResponse({"status": "ok"})


def _signed_in_email(request):
    return request.user.email if request.user.is_authenticated else ""


# The Django admin's password forms, throttled like the console's sign-in (gateway/throttle.py).
# Listed before admin.site.urls, so these paths (and reverse("admin:login")) reach the wrappers.
admin_password_urls = [
    path("django-admin/login/", throttled_post(admin.site.login, lambda request: request.POST.get("username"))),
    path("django-admin/password_change/", throttled_post(
        admin.site.admin_view(admin.site.password_change, cacheable=True), _signed_in_email)),
]


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
    *admin_password_urls,
    path("django-admin/", admin.site.urls),
]

# Unmatched /api/ paths answer the API's JSON error envelope; the rest Django's page.
handler404 = "gateway.api.errors.not_found"
