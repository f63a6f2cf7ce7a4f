"""Sign-in, sign-out, sign-up (by invitation, or open when PORTAL_OPEN_SIGNUP), invitations, tenant switch."""
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from gateway.console.htmx import render_page
from gateway.console.tenancy import ADMINS, SESSION_KEY, tenants_for
from gateway.console.views.base import form_page, own, redirect_after_write
from gateway.console.views.tenancy import ConsoleLoginView
from portal.access import LOGIN_URL, portal_view
from portal.forms import InvitationForm, SignupForm
from portal.models import Invitation
from portal.services import invitation_accept, invitation_create, invitation_for_token, signup_tenant, user_signup

BACKEND = "django.contrib.auth.backends.ModelBackend"


class PortalLoginView(ConsoleLoginView):
    """The console's throttled sign-in, with the portal's page and the portal as the default destination."""

    template_name = "portal/login.html"

    def get_default_redirect_url(self):
        return reverse("portal:home")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "open_signup": signup_tenant() is not None}


def _signed_up(request, user):
    login(request, user, backend=BACKEND)
    return redirect("portal:home")


def _add_errors(form, exc):
    for message in exc.messages:
        form.add_error(None, message)


def signup(request):
    """Open sign-up; a 404 unless PORTAL_OPEN_SIGNUP is on and PORTAL_SIGNUP_TENANT exists."""
    tenant = signup_tenant()
    if tenant is None:
        raise Http404("sign-up is by invitation")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            return _signed_up(request, user_signup(email=form.cleaned_data["email"],
                                                   password=form.cleaned_data["password1"]))
        except ValidationError as exc:
            _add_errors(form, exc)
    return form_page(request, "portal/signup.html", {"form": form, "tenant": tenant})


def signup_invited(request, token):
    """An invitation link: create the account (or, signed in as the invited address, just join)."""
    invitation = invitation_for_token(token)
    if invitation is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    signed_in = request.user.is_authenticated
    form = None if signed_in else SignupForm(request.POST or None, email=invitation.email)
    error = None
    if request.method == "POST" and (signed_in or form.is_valid()):
        try:
            user = invitation_accept(token, user=request.user if signed_in else None,
                                     password=None if signed_in else form.cleaned_data["password1"])
            return _signed_up(request, user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
            if form is not None:
                _add_errors(form, exc)
    context = {"form": form, "invitation": invitation, "error": error}
    status = 400 if request.method == "POST" else 200
    return render_page(request, "portal/signup.html", None, context, status=status)


@portal_view(read=ADMINS, write=ADMINS)
def invitation_list(request):
    """Admins invite developers; the link is shown once (only its hash is kept)."""
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        invitation, token = invitation_create(tenant=request.console.tenant, email=form.cleaned_data["email"],
                                              created_by=request.user, days=form.cleaned_data["days"])
        link = request.build_absolute_uri(reverse("portal:signup_invited", args=[token]))
        response = render_page(request, "portal/invitation_link.html", None, {"invitation": invitation, "link": link})
        response["Cache-Control"] = "no-store"
        return response
    invitations = Invitation.objects.filter(tenant=request.console.tenant).select_related("used_by")[:100]
    return form_page(request, "portal/invitations.html", {"form": form, "invitations": invitations,
                                                         "now": timezone.now()})


@require_POST
@portal_view(read=ADMINS, write=ADMINS)
def invitation_revoke(request, pk):
    invitation = own(request, Invitation.objects.open(), pk)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    return redirect_after_write(request, reverse("portal:invitations"), f"Invitation for {invitation.email} revoked.")


@require_POST
@login_required(login_url=LOGIN_URL)
def tenant_switch(request, pk):
    """The console's switch (same session key), landing back in the portal."""
    if pk not in {t.pk for t, _role in tenants_for(request.user)}:
        raise Http404
    request.session[SESSION_KEY] = pk
    return redirect("portal:home")

