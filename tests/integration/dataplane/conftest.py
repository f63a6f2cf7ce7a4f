"""Fixtures for data-plane tests: a tenant with a key, fake upstreams, a running gateway."""
import pytest
import redis
from django.conf import settings

from gateway.models import Provider, Route, Tenant
from gateway.services.keys import key_create
from gateway.services.routes import route_save
from tests.conftest import make_member
from tests.fakes import DEFAULT_KEYS
from tests.fakes.fixtures import fake_anthropic, fake_gemini, fake_openai  # noqa: F401
from tests.servers import GatewayServer


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()  # a fresh usage stream and config version per test
    yield client
    client.flushdb()


@pytest.fixture
def tenant(transactional_db):
    return Tenant.objects.create(slug="acme", name="Acme")


@pytest.fixture
def api_key(tenant):
    owner = make_member(tenant, "dev@acme.test", "developer")
    key, secret = key_create(tenant=tenant, name="app", owner=owner)
    key.secret = secret
    return key


def add_route(name, kind, base_url, model, api_key=None, tenant=None, **route_fields):
    provider = Provider.objects.create(
        name=f"{name}-{kind}", kind=kind, base_url=base_url, api_key=api_key or DEFAULT_KEYS.get(kind, ""),
        tenant=tenant,
    )
    return route_save(Route(name=name, tenant=tenant, **route_fields), targets=[(provider, model, 1)])


@pytest.fixture
def routes(tenant, fake_openai, fake_anthropic, fake_gemini):  # noqa: F811
    """One route per upstream wire format, plus the mock provider."""
    return {
        "gpt": add_route("gpt", "openai", fake_openai.base_url, "gpt-4o-mini"),
        "claude": add_route("claude", "anthropic", fake_anthropic.base_url, "claude-3-5-haiku-latest"),
        "gemini": add_route("gemini", "gemini", fake_gemini.base_url, "gemini-2.0-flash"),
        "mock": add_route("mock", "mock", "", "mock-1"),
    }


@pytest.fixture
def gateway(redis_client, routes, api_key):
    with GatewayServer() as server:
        yield server
