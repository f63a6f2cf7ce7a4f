"""The price API (overrides, prices per route, catalogue) and the config file's `prices:` sections."""
import io
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from billing.models import PriceOverride
from gateway.models import AuditEvent, Provider, ProviderKind, Role, User
from gateway.services import config_version
from tests.conftest import client_for, make_member
from tests.factories import make_provider, make_route

FUTURE = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def shared_openai(db):
    return Provider.objects.create(name="openai-main", kind=ProviderKind.OPENAI, api_key="sk-test")


@pytest.fixture
def root(db):
    return User.objects.create_superuser(email="root@example.test", password="pw-root-123")


def body(provider, **extra):
    return {"provider": provider.pk, "model": "gpt-4o", "input_per_mtok": "2", "output_per_mtok": "8", **extra}


@pytest.mark.django_db
def test_it_lets_finance_manage_its_tenants_prices_with_audit_and_a_config_bump(
    tenant_a, shared_openai, django_capture_on_commit_callbacks
):
    finance = make_member(tenant_a, "fin@a.test", Role.FINANCE)
    client = client_for(finance)
    version = config_version.current()
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(reverse("price-override-list"), body(shared_openai, tenant=tenant_a.pk), format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["scope"] == "tenant+provider" and data["revision"] == 1
    assert data["version"].startswith(f"override:{data['id']}@")
    assert config_version.current() > version
    assert AuditEvent.objects.filter(object_type="billing.priceoverride", action="create", tenant=tenant_a).exists()

    url = reverse("price-override-detail", args=[data["id"]])
    patched = client.patch(url, {"output_per_mtok": "9"}, format="json")
    assert patched.status_code == 200 and patched.json()["revision"] == 2
    moved = client.patch(url, {"model": "gpt-4.1"}, format="json")
    assert moved.status_code == 400 and "model" in moved.json()["error"]["fields"]
    assert client.delete(url).status_code == 400  # it has been in force: history
    assert client.get(reverse("price-override-list"), {"at": "2020-01-01T00:00:00Z"}).json()["count"] == 0


@pytest.mark.django_db
def test_it_keeps_shared_prices_for_superusers(tenant_a, admin_a, shared_openai, root):
    shared = body(shared_openai, valid_from=FUTURE.isoformat())
    assert client_for(admin_a).post(reverse("price-override-list"), shared, format="json").status_code == 403
    created = client_for(root).post(reverse("price-override-list"), shared, format="json")
    assert created.status_code == 201 and created.json()["scope"] == "provider"
    url = reverse("price-override-detail", args=[created.json()["id"]])
    assert client_for(admin_a).get(url).status_code == 200  # every member sees the shared prices
    assert client_for(admin_a).delete(url).status_code == 403
    assert client_for(root).delete(url).status_code == 204  # never in force yet: may go


@pytest.mark.django_db
def test_it_rejects_overlaps_and_other_tenants_objects(tenant_a, tenant_b, admin_a, shared_openai):
    client = client_for(admin_a)
    first = client.post(reverse("price-override-list"), body(shared_openai, tenant=tenant_a.pk), format="json")
    assert first.status_code == 201
    again = client.post(reverse("price-override-list"), body(shared_openai, tenant=tenant_a.pk), format="json")
    assert again.status_code == 400 and "valid_from" in again.json()["error"]["fields"]
    foreign = make_provider(tenant_b, "b-prov")
    response = client.post(reverse("price-override-list"), body(foreign, tenant=tenant_a.pk), format="json")
    assert response.status_code == 400 and "provider" in response.json()["error"]["fields"]
    hourly = body(shared_openai, tenant=tenant_a.pk, unit="hour", valid_from=FUTURE.isoformat())
    response = client.post(reverse("price-override-list"), hourly, format="json")
    assert response.status_code == 400 and "unit" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_it_serves_the_catalogue_to_any_signed_in_user(member_ro):
    client = client_for(member_ro)
    response = client.get(reverse("price-catalogue"), {"provider": "openai", "model": "gpt-4o"})
    assert response.status_code == 200
    [entry] = response.json()["results"]
    assert (entry["model"], entry["input_per_mtok"], entry["output_per_mtok"], entry["cached_input_per_mtok"]) == (
        "gpt-4o", "2.5", "10", "1.25")
    by_kind = client.get(reverse("price-catalogue"), {"provider": "gemini", "model": "gemini-2.0-flash"}).json()
    assert [e["provider"] for e in by_kind["results"]] == ["google"]
    assert client.get(reverse("price-catalogue"), {"provider": "anthropic"}).json()["count"] > 10
    assert APIClient().get(reverse("price-catalogue")).status_code in (401, 403)


@pytest.mark.django_db
def test_it_shows_the_price_in_force_per_route_target(tenant_a, admin_a, shared_openai):
    route = make_route(tenant_a, "a-chat")
    provider = route.targets.get().provider
    override = PriceOverride.objects.create(
        tenant=tenant_a, route=route, provider=provider, model="mock-1", input_per_mtok="4", output_per_mtok="5",
        valid_from=datetime.now(tz=UTC) - timedelta(hours=1),
    )
    data = client_for(admin_a).get(reverse("price-detail", args=[route.pk])).json()
    [target] = data["targets"]
    assert (target["input_per_mtok"], target["output_per_mtok"], target["override"]) == ("4", "5", override.pk)
    assert target["source"] == override.version and data["priced_for_tenant"] == tenant_a.pk


# --- config as code --------------------------------------------------------------------------------

CONFIG = """
providers:
  - {name: openai-main, kind: openai}
routes:
  - name: chat
    targets: [{provider: openai-main, model: gpt-4o}]
prices:
  - {provider: openai-main, model: gpt-4o, input_per_mtok: 2.2, output_per_mtok: 8.8,
     valid_from: 2026-11-01, valid_to: 2026-12-01, note: contract 7}
  - {provider: openai-main, model: gpt-4o, input_per_mtok: 2, output_per_mtok: 8, cache_write_per_mtok: 2.5,
     valid_from: 2026-12-01}
tenants:
  - slug: acme
    name: Acme
    providers:
      - {name: gpu-box, kind: vllm, base_url: "http://vllm:8000/v1"}
    prices:
      - {provider: gpu-box, model: llama, unit: hour, per_hour_usd: 3.75, valid_from: 2026-11-01}
      - {provider: openai-main, route: chat, model: gpt-4o, input_per_mtok: 1.5, output_per_mtok: 6,
         valid_from: 2026-11-15T12:00:00Z}
"""


def apply(tmp_path, text, name="prices.yaml"):
    path = tmp_path / name
    path.write_text(text)
    out = io.StringIO()
    call_command("apply_config", str(path), stdout=out)
    return out.getvalue()


def export():
    out = io.StringIO()
    call_command("export_config", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_round_trips_prices_through_config_files(tmp_path):
    out = apply(tmp_path, CONFIG)
    assert "created price acme/gpu-box:llama@2026-11-01T00:00:00+00:00" in out
    assert PriceOverride.objects.count() == 4
    hourly = PriceOverride.objects.get(model="llama")
    assert (hourly.unit, str(hourly.per_hour_usd), hourly.tenant.slug) == ("hour", "3.750000", "acme")
    first = export()
    exported = yaml.safe_load(first)
    assert exported["prices"][0]["note"] == "contract 7" and len(exported["tenants"][0]["prices"]) == 2

    assert apply(tmp_path, first, "export.yaml").strip().endswith("no changes")
    assert export() == first
    changed = first.replace("input_per_mtok: 1.5", "input_per_mtok: 1.4")
    assert "updated price acme/chat/openai-main:gpt-4o" in apply(tmp_path, changed, "changed.yaml")
    assert PriceOverride.objects.get(route__name="chat").revision == 2


@pytest.mark.django_db
def test_it_rejects_overlapping_or_unknown_prices_in_a_file(tmp_path):
    overlapping = CONFIG.replace("valid_from: 2026-11-01, valid_to: 2026-12-01", "valid_from: 2026-11-01")
    with pytest.raises(CommandError, match=r"prices\[1\]: its window overlaps prices\[0\]"):
        apply(tmp_path, overlapping)
    unknown = CONFIG.replace("provider: gpu-box", "provider: nowhere")
    with pytest.raises(CommandError, match=r"tenants\[0\]\.prices\[0\]\.provider: unknown provider 'nowhere'"):
        apply(tmp_path, unknown)
    hourly = CONFIG.replace("unit: hour, per_hour_usd: 3.75", "unit: hour")
    with pytest.raises(CommandError, match="per_hour_usd: required when unit is hour"):
        apply(tmp_path, hourly)
    assert not PriceOverride.objects.exists()
