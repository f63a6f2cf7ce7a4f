from django.contrib.auth import views as auth_views
from django.urls import path

from gateway.console.views import audit, keys, money, providers, routes, tenancy

app_name = "console"

urlpatterns = [
    path("login/", tenancy.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", tenancy.home, name="home"),
    path("tenants/<int:pk>/switch/", tenancy.tenant_switch, name="tenant_switch"),
    path("tenant/", tenancy.tenant_edit, name="tenant"),
    path("teams/", tenancy.team_list, name="teams"),
    path("teams/new/", tenancy.team_create, name="team_create"),
    path("teams/<int:pk>/", tenancy.team_edit, name="team_edit"),
    path("teams/<int:pk>/delete/", tenancy.team_delete, name="team_delete"),
    path("members/", tenancy.member_list, name="members"),
    path("members/new/", tenancy.member_create, name="member_create"),
    path("members/<int:pk>/", tenancy.member_edit, name="member_edit"),
    path("members/<int:pk>/delete/", tenancy.member_delete, name="member_delete"),
    path("providers/", providers.provider_list, name="providers"),
    path("providers/new/", providers.provider_create, name="provider_create"),
    path("providers/<int:pk>/", providers.provider_edit, name="provider_edit"),
    path("providers/<int:pk>/delete/", providers.provider_delete, name="provider_delete"),
    path("providers/<int:pk>/test/", providers.provider_test, name="provider_test"),
    path("routes/", routes.route_list, name="routes"),
    path("routes/new/", routes.route_create, name="route_create"),
    path("routes/target-row/", routes.route_target_row, name="route_target_row"),
    path("routes/<int:pk>/", routes.route_detail, name="route_detail"),
    path("routes/<int:pk>/edit/", routes.route_edit, name="route_edit"),
    path("routes/<int:pk>/delete/", routes.route_delete, name="route_delete"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/new/", keys.key_new, name="key_create"),
    path("keys/<int:pk>/rotate/", keys.key_rotate_view, name="key_rotate"),
    path("keys/<int:pk>/revoke/", keys.key_revoke_view, name="key_revoke"),
    path("budgets/", money.budget_list, name="budgets"),
    path("budgets/new/", money.budget_create, name="budget_create"),
    path("budgets/<int:pk>/", money.budget_edit, name="budget_edit"),
    path("budgets/<int:pk>/delete/", money.budget_delete, name="budget_delete"),
    path("prices/", money.price_list, name="prices"),
    path("prices/new/", money.price_create, name="price_create"),
    path("prices/<int:pk>/", money.price_edit, name="price_edit"),
    path("prices/<int:pk>/delete/", money.price_delete, name="price_delete"),
    path("audit/", audit.audit_list, name="audit"),
]
