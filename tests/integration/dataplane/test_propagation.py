"""Config changes reach every server process within 2 s (issue 3; RELIABILITY.md B13)."""
import time

import httpx
import pytest

from gateway.models import RouteTarget
from gateway.services.keys import key_revoke
from tests.servers import GatewayServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PROPAGATION_S = 2.0


def chat(server, key, model="mock"):
    return httpx.post(server.url + "/v1/chat/completions", timeout=10, headers={"Authorization": f"Bearer {key}"},
                      json={"model": model, "messages": [{"role": "user", "content": "hi"}]})


def test_it_stops_a_revoked_key_on_every_process_within_two_seconds(redis_client, routes, api_key):
    with GatewayServer() as one, GatewayServer() as two:
        assert all(chat(s, api_key.secret).status_code == 200 for s in (one, two))
        key_revoke(api_key)
        revoked_at = time.monotonic()
        assert wait_until(lambda: all(chat(s, api_key.secret).status_code == 401 for s in (one, two)),
                          timeout=PROPAGATION_S, interval=0.05)
        assert time.monotonic() - revoked_at <= PROPAGATION_S


def test_it_applies_a_changed_route_on_every_process_within_two_seconds(redis_client, routes, api_key):
    with GatewayServer() as one, GatewayServer() as two:
        assert chat(one, api_key.secret, "gpt").headers["x-switchyard-provider"] == "gpt-openai"
        target = RouteTarget.objects.get(route=routes["gpt"])
        target.provider = routes["mock"].targets.get().provider
        target.save()
        changed_at = time.monotonic()
        assert wait_until(
            lambda: all(chat(s, api_key.secret, "gpt").headers.get("x-switchyard-provider") == "mock-mock"
                        for s in (one, two)),
            timeout=PROPAGATION_S, interval=0.05)
        assert time.monotonic() - changed_at <= PROPAGATION_S
