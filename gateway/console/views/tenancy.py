"""Home, tenant switcher, the tenant's settings, teams and members."""
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from gateway.console.forms import MemberForm, TeamForm, TenantForm
from gateway.console.htmx import render_page
from gateway.console.tenancy import ADMINS, SESSION_KEY, build_context, console_view, tenants_for
from gateway.console.views.base import delete_or_dependants, form_page, own, redirect_after_write, try_save
from gateway.models import Membership, Role, Route, Team
from gateway.services.members import membership_upsert
from gateway.throttle import allow_password_attempt, with_retry_after


class ConsoleLoginView(auth_views.LoginView):
    """Django's sign-in (it rotates the session key on login), throttled per client IP and account."""

    template_name = "console/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        if not allow_password_attempt(request, request.POST.get("username")):
            context = {"form": self.get_form(), "throttled": True}
            return with_retry_after(render(request, self.template_name, context, status=429))
        return super().post(request, *args, **kwargs)


@require_safe
@login_required
def home(request):
    request.console = build_context(request)
    shared = Route.objects.filter(tenant__isnull=True).order_by("name")[:50]  # a glance, not a listing
    return render_page(request, "console/home.html", None, {"shared_routes": shared})


@require_POST
@login_required
def tenant_switch(request, pk):
    if pk not in {t.pk for t, _role in tenants_for(request.user)}:
        raise Http404
    request.session[SESSION_KEY] = pk
    return redirect("console:home")


@console_view(write=ADMINS)
def tenant_edit(request):
    form = TenantForm(request.POST or None, instance=request.console.tenant)
    if request.method == "POST" and form.is_valid() and try_save(form, form.save):
        return redirect_after_write(request, reverse("console:tenant"), "Tenant saved.")
    return form_page(request, "console/tenant_form.html", {"form": form})


@require_safe
@console_view()
def team_list(request):
    teams = Team.objects.filter(tenant=request.console.tenant).order_by("name")
    return render_page(request, "console/teams.html", None, {"teams": teams})


@console_view(read=ADMINS, write=ADMINS)
def team_create(request):
    return _team_edit(request, Team())


@console_view(read=ADMINS, write=ADMINS)
def team_edit(request, pk):
    return _team_edit(request, own(request, Team.objects, pk))


def _team_edit(request, team):
    form = TeamForm(request.POST or None, instance=team, tenant=request.console.tenant)
    if request.method == "POST" and form.is_valid() and try_save(form, form.save):
        return redirect_after_write(request, reverse("console:teams"), f"Team {team.name} saved.")
    return form_page(request, "console/team_form.html", {"form": form, "team": team})


@require_POST
@console_view(write=ADMINS)
def team_delete(request, pk):
    team = own(request, Team.objects, pk)
    return delete_or_dependants(request, team, f"Team {team.name}", reverse("console:teams"))


@require_safe
@console_view()
def member_list(request):
    members = Membership.objects.filter(tenant=request.console.tenant).select_related("user", "team")
    return render_page(request, "console/members.html", None, {"members": members.order_by("user__email")})


@console_view(read=ADMINS, write=ADMINS)
def member_create(request):
    return _member_edit(request, None)


@console_view(read=ADMINS, write=ADMINS)
def member_edit(request, pk):
    return _member_edit(request, own(request, Membership.objects.select_related("user"), pk))


def _guard_owner(request, membership, role):
    """Only owners grant the owner role, or change or remove an owner."""
    touches_owner = role == Role.OWNER or (membership is not None and membership.role == Role.OWNER)
    if touches_owner and request.console.role != Role.OWNER:
        raise PermissionDenied("only owners grant or change the owner role")


def _member_edit(request, membership):
    ctx = request.console
    initial = None
    if membership is not None:
        initial = {"email": membership.user.email, "role": membership.role, "team": membership.team_id}
    form = MemberForm(request.POST or None, initial=initial, tenant=ctx.tenant, grantor_role=ctx.role,
                      editing=membership is not None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        _guard_owner(request, membership, data["role"])
        email = membership.user.email if membership else data["email"]
        save = lambda: membership_upsert(tenant=ctx.tenant, email=email, role=data["role"], team=data["team"])  # noqa: E731
        if try_save(form, save):
            return redirect_after_write(request, reverse("console:members"), f"{email} is now {data['role']}.")
    return form_page(request, "console/member_form.html", {"form": form, "membership": membership})


@require_POST
@console_view(write=ADMINS)
def member_delete(request, pk):
    membership = own(request, Membership.objects.select_related("user"), pk)
    _guard_owner(request, membership, None)
    if membership.user_id == request.user.pk:
        raise PermissionDenied("you cannot remove yourself")
    email = membership.user.email
    return delete_or_dependants(request, membership, f"Member {email}", reverse("console:members"), f"{email} removed.")

