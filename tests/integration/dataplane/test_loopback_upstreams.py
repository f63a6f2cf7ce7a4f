"""Production mode (REDIS_URL set) keeps refusing loopback upstreams unless allowed explicitly.

Embedded mode allows them by default (a local ollama/vLLM): tests/integration/test_embedded_mode.py.
"""
import httpx
import pytest

from tests.integration.dataplane.conftest import add_route
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_it_refuses_a_loopback_ollama_provider_in_production_mode(redis_client, api_key, fake_openai):
    add_route("llama", "ollama", fake_openai.base_url, "llama3.2", api_key=fake_openai.api_key)
    server = GatewayServer(SSRF_ALLOW_PRIVATE="0")
    server.env.pop("SSRF_ALLOW_CIDRS", None)  # the production default, not whatever this shell has
    with server:
        response = httpx.post(server.url + "/v1/chat/completions", timeout=10,
                              headers={"Authorization": f"Bearer {api_key.secret}"},
                              json={"model": "llama", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_blocked"
    assert fake_openai.attempts == 0
