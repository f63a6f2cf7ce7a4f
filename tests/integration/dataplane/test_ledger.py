"""The usage ledger: one exact row per request, through cancellations and a Redis outage (issue 3)."""
import asyncio
import subprocess
import time
from decimal import Decimal

import httpx
import pytest
import redis
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from billing.models import UsageRecord
from billing.usage_stream import drain
from gateway.dataplane.tokens import count_text
from tests.integration.dataplane.conftest import add_route
from tests.servers import GatewayServer, free_port, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PRICED = {"gpt": ("openai", "gpt-4o-mini"), "claude": ("anthropic", "claude-3-5-haiku-latest"),
          "gemini": ("google", "gemini-2.0-flash")}


def expected_cost(route, usage):
    if route not in PRICED:
        return Decimal(0)
    provider, model = PRICED[route]
    price = calc_price(PriceUsage(input_tokens=1_000_000, output_tokens=1_000_000), model, provider_id=provider)
    per_in, per_out = price.input_price / 1_000_000, price.output_price / 1_000_000
    return usage["prompt_tokens"] * per_in + usage["completion_tokens"] * per_out


async def one_call(client, url, key, route, stream):
    body = {"model": route, "messages": [{"role": "user", "content": f"count these {route} words please"}]}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    response = await client.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    if stream:
        last = [line for line in response.text.splitlines() if line.startswith("data: {")][-1]
        usage = httpx.Response(200, content=last[6:]).json()["usage"]
    else:
        usage = response.json()["usage"]
    return response.headers["x-request-id"], route, usage


async def mixed_calls(urls, key, n):
    routes = ["gpt", "claude", "gemini", "mock"]
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return await asyncio.gather(*(
            one_call(client, urls[i % len(urls)], key, routes[i % 4], stream=bool(i // 4 % 2)) for i in range(n)
        ))


def drain_until(client, expected, timeout=20):
    def done():
        drain(client)
        return UsageRecord.objects.count() >= expected
    return wait_until(done, timeout=timeout, interval=0.2)


def assert_ledger_matches(results):
    rows = {r.request_id: r for r in UsageRecord.objects.all()}
    assert len(rows) == len(results) == UsageRecord.objects.count()
    for request_id, route, usage in results:
        row = rows[request_id]
        assert (row.input_tokens, row.output_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
        assert row.status == 200 and row.route == route and not row.tokens_estimated
        assert row.cost_usd == expected_cost(route, usage).quantize(Decimal("1e-12")), route


def test_it_records_exactly_one_priced_row_per_call_across_processes(redis_client, routes, api_key):
    with GatewayServer() as one, GatewayServer() as two:
        results = asyncio.run(mixed_calls([one.url, two.url], api_key.secret, 200))
    assert drain_until(redis_client, 200)
    assert_ledger_matches(results)
    drain(redis_client)  # draining again adds nothing
    assert UsageRecord.objects.count() == 200


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of our own to kill: AOF with fsync on every write, as the usage stream needs."""
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
            "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    server = {"proc": subprocess.Popen(args, stdout=subprocess.DEVNULL), "port": port}
    client = redis.Redis(port=port)
    assert wait_until(lambda: _pings(client), timeout=10)

    def restart():
        server["proc"] = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        assert wait_until(lambda: _pings(client), timeout=10)

    server["client"], server["restart"] = client, restart
    yield server
    server["proc"].kill()
    server["proc"].wait()


def _pings(client):
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def test_it_loses_no_usage_when_redis_dies_mid_traffic(redis_client, routes, api_key, private_redis):
    url = f"redis://127.0.0.1:{private_redis['port']}/0"
    with GatewayServer(REDIS_URL=url) as server:
        before = asyncio.run(mixed_calls([server.url], api_key.secret, 60))
        private_redis["proc"].kill()
        private_redis["proc"].wait()
        during = asyncio.run(mixed_calls([server.url], api_key.secret, 60))  # served; events spooled
        private_redis["restart"]()
        after = asyncio.run(mixed_calls([server.url], api_key.secret, 20))
        assert drain_until(private_redis["client"], 140, timeout=30), server.output()[-2000:]
    assert_ledger_matches(before + during + after)
    assert "spooling locally" in server.output()


def test_it_cancels_the_upstream_within_a_second_and_bills_what_was_delivered(
    redis_client, routes, api_key, fake_openai
):
    add_route("paced", "openai", fake_openai.base_url, "gpt-4o-mini~stream_pace:200+chunks:20")
    with GatewayServer() as server:
        assert wait_until(lambda: _route_ready(server, api_key, "paced"), timeout=5)
        body = {"model": "paced", "stream": True,
                "messages": [{"role": "user", "content": " ".join(["word"] * 40)}]}
        with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=10,
                          headers={"Authorization": f"Bearer {api_key.secret}"}) as response:
            request_id = response.headers["x-request-id"]
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("data: {")
                if seen == 3:
                    break
            closed_at = time.monotonic()
        assert fake_openai.wait_for(lambda up: up.cancellations, timeout=3)
        cancelled = fake_openai.cancellations[0]
        assert cancelled.at - closed_at < 1.0
        assert drain_until(redis_client, 1)
    row = UsageRecord.objects.get(request_id=request_id)
    assert row.cancelled and row.tokens_estimated and row.status == 499
    full_reply = count_text("echo: " + " ".join(["word"] * 40))
    # Billed for what was sent before the disconnect: a few chunks of 20, not the whole answer.
    assert row.input_tokens >= 40 and 1 <= row.output_tokens < full_reply / 2
    assert UsageRecord.objects.count() == 1


def _route_ready(server, key, model):
    response = httpx.get(server.url + f"/v1/models/{model}", headers={"Authorization": f"Bearer {key.secret}"})
    return response.status_code == 200
