"""Per-target limits keep a deployment inside its provider's quota (issue 4 item 1)."""
import httpx
import pytest

from gateway.models import Provider, Route
from gateway.services.routes import route_save
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def chat(server, key):
    return httpx.post(server.url + "/v1/chat/completions", timeout=10, headers={"Authorization": f"Bearer {key}"},
                      json={"model": "quota", "messages": [{"role": "user", "content": "hi"}]})


def quota_route(*limits):
    targets = []
    for i, limit in enumerate(limits):
        provider = Provider.objects.create(name=f"deploy-{i}", kind="mock")
        targets.append((provider, "mock-1", 1, limit))
    return route_save(Route(name="quota", strategy="round_robin"), targets=targets)


def test_it_moves_to_another_target_when_one_is_at_its_quota(redis_client, tenant, api_key):
    quota_route({"rpm": 1}, {})
    with GatewayServer() as server:
        providers = [chat(server, api_key.secret).headers.get("x-switchyard-provider") for _ in range(4)]
    assert providers.count("deploy-0") == 1 and providers.count("deploy-1") == 3


def test_it_refuses_when_the_only_target_is_at_its_quota(redis_client, tenant, api_key):
    quota_route({"rpm": 2})
    with GatewayServer() as server:
        statuses = [chat(server, api_key.secret).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
