from django.contrib.auth import views as auth_views
from django.urls import path

from portal.views import auth, keys, pages

app_name = "portal"

urlpatterns = [
    path("login/", auth.PortalLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="portal:login"), name="logout"),
    path("signup/", auth.signup, name="signup"),
    path("signup/<str:token>/", auth.signup_invited, name="signup_invited"),
    path("", pages.home, name="home"),
    path("tenants/<int:pk>/switch/", auth.tenant_switch, name="tenant_switch"),
    path("invitations/", auth.invitation_list, name="invitations"),
    path("invitations/<int:pk>/revoke/", auth.invitation_revoke, name="invitation_revoke"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/new/", keys.key_new, name="key_create"),
    path("keys/<int:pk>/rotate/", keys.key_rotate_view, name="key_rotate"),
    path("keys/<int:pk>/revoke/", keys.key_revoke_view, name="key_revoke"),
    path("catalogue/", pages.catalogue, name="catalogue"),
    path("playground/", pages.playground, name="playground"),
    path("usage/", pages.usage, name="usage"),
]
