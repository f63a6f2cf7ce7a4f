"""Private and metadata base URLs are refused when a provider is saved (API, console,
apply_config), naming the setting that allows them; the data plane's refusal names it too."""
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from gateway.dataplane.canonical import Timeouts, UpstreamRequest
from gateway.dataplane.errors import ProviderError
from gateway.dataplane.http import UpstreamClient
from gateway.dataplane.netguard import is_forbidden, parse_cidrs
from gateway.models import Provider
from tests.conftest import client_for

LOOPBACK = "http://127.0.0.1:11434/v1"
METADATA = "http://169.254.169.254/latest"
# A label longer than DNS allows (63): fails to resolve locally, without asking any server.
UNRESOLVABLE = "http://" + "a" * 64 + ".example/v1"


def _create(client, tenant, base_url, kind="openai"):
    data = {"tenant": tenant.pk, "name": "p", "kind": kind, "base_url": base_url}
    return client.post(reverse("provider-list"), data, format="json")


def _refusal(response):
    assert response.status_code == 400, response.content
    return " ".join(response.json()["error"]["fields"]["base_url"])


@pytest.fixture
def strict(settings):
    settings.SSRF_ALLOW_PRIVATE, settings.SSRF_ALLOW_CIDRS = False, []
    return settings


@pytest.mark.django_db
def test_it_refuses_a_loopback_base_url_naming_the_settings(strict, tenant_a, admin_a):
    message = _refusal(_create(client_for(admin_a), tenant_a, LOOPBACK))
    assert "127.0.0.1" in message and "SSRF_ALLOW_CIDRS" in message and "SSRF_ALLOW_PRIVATE" in message
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_it_refuses_the_default_base_url_of_a_local_kind(strict, tenant_a, admin_a):
    assert "127.0.0.1" in _refusal(_create(client_for(admin_a), tenant_a, "", kind="ollama"))


@pytest.mark.django_db
def test_it_refuses_a_name_that_resolves_to_loopback(strict, tenant_a, admin_a):
    strict.SSRF_RESOLVE_ON_SAVE = True
    message = _refusal(_create(client_for(admin_a), tenant_a, "http://localhost:8000/v1"))
    assert "localhost (" in message and "SSRF_ALLOW_CIDRS" in message


@pytest.mark.django_db
def test_it_accepts_a_loopback_base_url_inside_ssrf_allow_cidrs(strict, tenant_a, admin_a):
    strict.SSRF_ALLOW_CIDRS = ["127.0.0.0/8"]
    assert _create(client_for(admin_a), tenant_a, LOOPBACK).status_code == 201


@pytest.mark.django_db
def test_it_refuses_the_metadata_address_even_with_ssrf_allow_private(strict, tenant_a, admin_a):
    strict.SSRF_ALLOW_PRIVATE = True
    message = _refusal(_create(client_for(admin_a), tenant_a, METADATA))
    assert "metadata" in message and "SSRF_ALLOW_CIDRS" in message
    strict.SSRF_ALLOW_CIDRS = ["169.254.169.254/32"]  # listed explicitly: allowed
    assert _create(client_for(admin_a), tenant_a, METADATA).status_code == 201


def test_it_refuses_metadata_addresses_at_connect_time_with_allow_private():
    for address in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        assert is_forbidden(address, True)
        assert not is_forbidden(address, True, parse_cidrs(["169.254.169.254/32", "fd00:ec2::/64"]))
    assert not is_forbidden("10.0.0.5", True)


@pytest.mark.django_db
def test_it_refuses_an_edit_to_a_private_base_url(strict, tenant_a, admin_a):
    provider = Provider.objects.create(tenant=tenant_a, name="p", kind="openai", base_url="https://api.openai.com/v1")
    response = client_for(admin_a).patch(reverse("provider-detail", args=[provider.pk]),
                                         {"base_url": "http://10.0.0.5/v1"}, format="json")
    assert "10.0.0.5" in _refusal(response)


@pytest.mark.django_db
def test_it_refuses_a_private_base_url_in_the_console_form(strict, admin_client, tenant_a):
    response = admin_client.post(reverse("console:provider_create"),
                                 {"name": "local", "kind": "openai", "base_url": LOOPBACK, "enabled": "on"})
    assert response.status_code == 400
    assert "SSRF_ALLOW_CIDRS" in response.content.decode() and not Provider.objects.exists()


def _config(tmp_path, base_url):
    path = tmp_path / "c.yaml"
    path.write_text(f"providers:\n  - {{name: local, kind: openai, base_url: '{base_url}'}}\n")
    return str(path)


@pytest.mark.django_db
def test_it_refuses_a_private_base_url_in_apply_config(strict, tmp_path):
    with pytest.raises(CommandError) as refused:
        call_command("apply_config", _config(tmp_path, LOOPBACK))
    assert "providers[0].base_url" in str(refused.value) and "SSRF_ALLOW_PRIVATE" in str(refused.value)
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_it_warns_about_an_unresolvable_base_url_in_apply_config(strict, tmp_path, capsys):
    strict.SSRF_RESOLVE_ON_SAVE = True
    call_command("apply_config", _config(tmp_path, UNRESOLVABLE))
    err = capsys.readouterr().err
    assert "warning:" in err and "cannot resolve" in err and "SSRF_ALLOW_CIDRS" in err
    assert Provider.objects.filter(name="local").exists()


async def test_it_names_the_settings_in_the_upstream_blocked_error():
    client = UpstreamClient(allow_private=False)
    try:
        with pytest.raises(ProviderError) as refused:
            await client.open(UpstreamRequest("POST", LOOPBACK + "/chat/completions", {}, b"{}"),
                              Timeouts(connect=1, first_byte=1, idle=1))
    finally:
        await client.close()
    assert refused.value.code == "upstream_blocked"
    assert "SSRF_ALLOW_PRIVATE" in refused.value.message and "SSRF_ALLOW_CIDRS" in refused.value.message
