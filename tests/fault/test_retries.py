"""Retries against fake upstreams in fault modes (RELIABILITY.md B5): budget, 4xx, refused, cut, hung."""
import asyncio

import httpx
import pytest

from tests.fakes.threaded import refused_url
from tests.integration.dataplane.resilience_helpers import chat, models_sent, multi_route, provider, served_by
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
NO_BREAKER = {"enabled": False}  # these tests count retries; a breaker would stop them first


async def _burst(server, key, model, n):
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n)) as client:
        return await asyncio.gather(*(
            client.post(server.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
            for _ in range(n)))


def test_it_keeps_retries_within_the_budget_during_an_outage(redis_client, api_key, fake_openai):
    down = provider("down", "openai", fake_openai.base_url)
    # 300 ms per failure keeps all 50 requests in flight together when they decide to retry.
    multi_route("outage", [(down, "gpt-4o-mini~latency:300+status:503", 1)], breaker=NO_BREAKER)
    with GatewayServer() as server:
        answers = asyncio.run(_burst(server, api_key.secret, "outage", 50))
    assert all(a.status_code == 502 for a in answers)
    retries = fake_openai.attempts - 50
    # Without a budget: 100 retries (2 each). With it: at most 20 % of 50 in flight per round of retries.
    assert 3 <= retries <= 2 * 10, retries


@pytest.mark.parametrize("status, client_status", [(400, 400), (401, 502), (404, 404), (422, 422)])
def test_it_never_retries_a_non_retryable_4xx(redis_client, api_key, fake_openai, status, client_status):
    picky = provider("picky", "openai", fake_openai.base_url)
    spare = provider("spare", "openai", fake_openai.base_url)
    multi_route("strict", [(picky, f"gpt-4o-mini~status:{status}", 1), (spare, f"gpt-4o-mini~status:{status}", 1)])
    with GatewayServer() as server:
        response = chat(server, api_key, "strict")
    assert response.status_code == client_status
    assert fake_openai.attempts == 1  # not the same target again, not the other one either


def test_it_retries_a_refused_connection_on_the_other_target(redis_client, api_key, fake_openai):
    gone = provider("gone", "openai", refused_url("/v1"))
    alive = provider("alive", "openai", fake_openai.base_url)
    multi_route("pair", [(gone, "gpt-4o-mini", 1), (alive, "gpt-4o-mini", 1)], strategy="round_robin")
    with GatewayServer() as server:
        response = chat(server, api_key, "pair")  # round robin: `gone` first
    assert response.status_code == 200 and served_by(response) == ("pair", "alive")
    assert fake_openai.attempts == 1


def test_it_retries_an_answer_cut_before_the_first_byte_reached_the_client(redis_client, api_key, fake_openai):
    only = provider("only", "openai", fake_openai.base_url)
    multi_route("cut", [(only, "gpt-4o-mini", 1)])
    fake_openai.queue_scenarios("reset_mid_body")
    with GatewayServer() as server:
        response = chat(server, api_key, "cut")
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "echo: hello there"
    assert fake_openai.attempts == 2


def test_it_makes_at_most_one_plus_max_retries_attempts(redis_client, api_key, fake_openai):
    a, b = provider("a", "openai", fake_openai.base_url), provider("b", "openai", fake_openai.base_url)
    multi_route("flaky", [(a, "gpt-4o-mini~status:500", 1), (b, "gpt-4o-mini~status:502", 1)],
                retry={"max_retries": 3, "backoff_ms": 5}, breaker=NO_BREAKER)
    with GatewayServer() as server:
        response = chat(server, api_key, "flaky")
    assert response.status_code == 502 and fake_openai.attempts == 4


def test_it_moves_a_timed_out_attempt_to_another_target(redis_client, api_key, fake_openai):
    hung, alive = provider("hung", "openai", fake_openai.base_url), provider("alive", "openai", fake_openai.base_url)
    multi_route("slowpoke", [(hung, "gpt-4o-mini~hang", 1), (alive, "gpt-4o-mini", 1)], strategy="round_robin",
                timeouts={"connect": 0.3, "first_byte": 0.3})
    with GatewayServer() as server:
        response = chat(server, api_key, "slowpoke")
    assert response.status_code == 200 and served_by(response)[1] == "alive"
    assert models_sent(fake_openai) == ["gpt-4o-mini~hang", "gpt-4o-mini"]


def test_it_gives_up_on_a_hung_lone_target_at_the_total_timeout(redis_client, api_key, fake_openai):
    hung = provider("hung", "openai", fake_openai.base_url)
    multi_route("stuck", [(hung, "gpt-4o-mini~hang", 1)], timeouts={"first_byte": 30, "total": 0.5})
    with GatewayServer() as server:
        response = chat(server, api_key, "stuck", timeout=5)  # first_byte alone would keep it 30 s
    assert response.status_code == 504 and response.json()["error"]["code"] == "upstream_timeout"
    assert fake_openai.attempts == 1 and fake_openai.wait_for(lambda f: f.cancellations, timeout=2)
