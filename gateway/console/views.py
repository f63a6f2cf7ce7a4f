"""Console pages. The full console grows here; sign-in and the landing page first."""
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from gateway.models import Membership, Route


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    memberships = Membership.objects.filter(user=request.user).select_related("tenant").order_by("tenant__slug")
    routes = Route.objects.filter(tenant__isnull=True).order_by("name")[:50]
    return render(request, "console/home.html", {"memberships": memberships, "shared_routes": routes})
