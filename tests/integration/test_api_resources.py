"""Admin API behaviour: keys shown once, secrets write-only, roles, audit, schema."""
import pytest
from django.urls import reverse
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from billing.models import Budget
from gateway.models import ApiKey, AuditEvent, Provider, Role, User
from tests.conftest import client_for, make_member
from tests.factories import make_provider, make_route


def bearer(secret):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.mark.django_db
def test_it_returns_a_key_secret_once(tenant_a, admin_a):
    client = client_for(admin_a)
    created = client.post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "ci"}, format="json")
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("sy-") and len(secret) >= 3 + 43
    detail = client.get(reverse("key-detail", args=[created.json()["id"]])).json()
    assert "secret" not in detail and secret not in str(detail)
    assert detail["masked"].endswith(secret[-4:])


@pytest.mark.django_db
def test_it_authenticates_with_a_bearer_key_confined_to_its_tenant(tenant_a, tenant_b, admin_a):
    make_member(tenant_b, admin_a.email.replace("@", "+b@"), Role.ADMIN)
    created = client_for(admin_a).post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "ci"}, format="json")
    client = bearer(created.json()["secret"])
    slugs = [t["slug"] for t in client.get(reverse("tenant-list")).json()["results"]]
    assert slugs == ["tenant-a"]


@pytest.mark.django_db
def test_it_rejects_revoked_and_unknown_keys(tenant_a, admin_a):
    client = client_for(admin_a)
    created = client.post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "ci"}, format="json").json()
    assert bearer(created["secret"]).get(reverse("tenant-list")).status_code == 200
    assert client.post(reverse("key-revoke", args=[created["id"]])).status_code == 200
    assert bearer(created["secret"]).get(reverse("tenant-list")).status_code == 401
    assert bearer("sy-" + "x" * 43).get(reverse("tenant-list")).status_code == 401


@pytest.mark.django_db
def test_it_rotates_a_key(tenant_a, admin_a):
    client = client_for(admin_a)
    old = client.post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "ci"}, format="json").json()
    new = client.post(reverse("key-rotate", args=[old["id"]]), {}, format="json")
    assert new.status_code == 201
    assert new.json()["name"] == "ci" and new.json()["secret"] != old["secret"]
    assert bearer(old["secret"]).get(reverse("tenant-list")).status_code == 401
    assert bearer(new.json()["secret"]).get(reverse("tenant-list")).status_code == 200
    assert AuditEvent.objects.filter(object_type="gateway.apikey", action="rotate").count() == 1


@pytest.mark.django_db
def test_it_keeps_a_rotated_key_alive_for_the_grace_period(tenant_a, admin_a):
    client = client_for(admin_a)
    old = client.post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "ci"}, format="json").json()
    client.post(reverse("key-rotate", args=[old["id"]]), {"grace_seconds": 3600}, format="json")
    assert bearer(old["secret"]).get(reverse("tenant-list")).status_code == 200
    assert ApiKey.objects.get(pk=old["id"]).expires_at is not None


@pytest.mark.django_db
def test_it_lets_developers_manage_only_their_own_keys(tenant_a, admin_a):
    dev = make_member(tenant_a, "dev@a.test", Role.DEVELOPER)
    admin_key = client_for(admin_a).post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "adm"}, format="json")
    client = client_for(dev)
    own = client.post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "mine"}, format="json")
    assert own.status_code == 201 and own.json()["owner"] == dev.pk
    # Another member's key is not even visible to a developer (404, as another tenant's).
    assert client.post(reverse("key-revoke", args=[admin_key.json()["id"]])).status_code == 404
    foreign = client.post(reverse("key-list"), {"tenant": tenant_a.pk, "name": "x", "owner": admin_a.pk}, format="json")
    assert foreign.status_code == 403


@pytest.mark.django_db
def test_it_never_returns_provider_credentials(tenant_a, admin_a):
    client = client_for(admin_a)
    body = {"tenant": tenant_a.pk, "name": "oai", "kind": "openai", "api_key": "sk-canary-123456789"}
    created = client.post(reverse("provider-list"), body, format="json")
    assert created.status_code == 201, created.content
    assert "sk-canary" not in created.content.decode()
    detail = client.get(reverse("provider-detail", args=[created.json()["id"]]))
    assert "sk-canary" not in detail.content.decode() and detail.json()["has_api_key"] is True
    assert "sk-canary" not in client.get(reverse("audit-event-list")).content.decode()
    assert Provider.objects.get(pk=created.json()["id"]).api_key == "sk-canary-123456789"


@pytest.mark.django_db
def test_it_creates_a_route_with_targets_and_fallbacks(tenant_a, admin_a):
    provider = make_provider(tenant_a)
    fallback = make_route(tenant_a, "fallback")
    client = client_for(admin_a)
    body = {
        "tenant": tenant_a.pk, "name": "gpt", "fallbacks": [fallback.pk],
        "targets": [{"provider": provider.pk, "model": "m1", "weight": 3}, {"provider": provider.pk, "model": "m2"}],
    }
    created = client.post(reverse("route-list"), body, format="json")
    assert created.status_code == 201, created.content
    data = client.get(reverse("route-detail", args=[created.json()["id"]])).json()
    assert data["targets"] == [
        {"provider": provider.pk, "model": "m1", "weight": 3, "limits": {}},
        {"provider": provider.pk, "model": "m2", "weight": 1, "limits": {}},
    ]
    assert data["fallbacks"] == [fallback.pk]


@pytest.mark.django_db
def test_it_shows_shared_routes_but_only_superusers_change_them(tenant_a, admin_a):
    shared = make_route(None, "shared")
    client = client_for(admin_a)
    assert client.get(reverse("route-detail", args=[shared.pk])).status_code == 200
    assert client.patch(reverse("route-detail", args=[shared.pk]), {"description": "x"}, format="json").status_code == 403
    root = User.objects.create_superuser(email="root@example.test", password="pw-root-123")
    response = client_for(root).patch(reverse("route-detail", args=[shared.pk]), {"description": "x"}, format="json")
    assert response.status_code == 200


@pytest.mark.django_db
def test_it_validates_budget_scopes(tenant_a, admin_a):
    client = client_for(admin_a)
    bad = client.post(reverse("budget-list"), {"tenant": tenant_a.pk, "scope": "team", "amount_usd": "5"}, format="json")
    assert bad.status_code == 400 and "team" in bad.json()["error"]["fields"]
    ok = client.post(reverse("budget-list"), {"tenant": tenant_a.pk, "scope": "tenant", "amount_usd": "5"}, format="json")
    assert ok.status_code == 201 and ok.json()["alert_thresholds"] == [50, 80, 100]
    assert Budget.objects.count() == 1


@pytest.mark.django_db
def test_it_lets_finance_manage_budgets_but_not_routes(tenant_a):
    finance = make_member(tenant_a, "fin@a.test", Role.FINANCE)
    client = client_for(finance)
    body = {"tenant": tenant_a.pk, "scope": "tenant", "amount_usd": "5"}
    assert client.post(reverse("budget-list"), body, format="json").status_code == 201
    assert client.post(reverse("route-list"), {"tenant": tenant_a.pk, "name": "r"}, format="json").status_code == 403


@pytest.mark.django_db
def test_it_audits_every_change_with_the_actor(tenant_a, admin_a):
    client = client_for(admin_a)
    team = client.post(reverse("team-list"), {"tenant": tenant_a.pk, "name": "ml"}, format="json").json()
    client.patch(reverse("team-detail", args=[team["id"]]), {"name": "ml2"}, format="json")
    client.delete(reverse("team-detail", args=[team["id"]]))
    events = AuditEvent.objects.filter(object_type="gateway.team", object_id=str(team["id"])).order_by("id")
    assert [e.action for e in events] == ["create", "update", "delete"]
    assert all(e.actor_label == admin_a.email and e.tenant_id == tenant_a.pk for e in events)
    assert events[1].before == {"name": "ml"} and events[1].after == {"name": "ml2"}


@pytest.mark.django_db
def test_it_requires_csrf_for_session_writes(tenant_a, admin_a):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_a)
    response = client.post(reverse("team-list"), {"tenant": tenant_a.pk, "name": "x"}, format="json")
    assert response.status_code == 403
    assert client.get(reverse("team-list")).status_code == 200


@pytest.mark.django_db
def test_it_serves_a_valid_openapi_schema(admin_a):
    response = client_for(admin_a).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    paths = schema["paths"]
    for resource in ("tenants", "teams", "memberships", "keys", "providers", "routes", "budgets", "audit-events"):
        assert f"/api/v1/{resource}/" in paths
    assert "/api/v1/keys/{id}/rotate/" in paths
    provider_out = schema["components"]["schemas"]["Provider"]["properties"]
    assert "api_key" not in provider_out


@pytest.mark.django_db
def test_it_serves_the_swagger_ui(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200 and b"swagger" in response.content.lower()
