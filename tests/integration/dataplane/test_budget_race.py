"""Budgets under concurrency across server processes: no overspend, counters equal to the ledger (B3)."""
import asyncio
from decimal import Decimal

import pytest

from billing.models import UsageRecord
from gateway.dataplane.budgets import money
from gateway.services.keys import key_create
from tests.conftest import make_member
from tests.integration.dataplane.budget_support import (
    chat_body,
    drain_until,
    ledger_pico,
    make_budget,
    open_reservation_sets,
    post_many,
    priced_mock_route,
    status,
)
from tests.servers import GatewayServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
OUT_PER_MTOK = "1234.567891"  # an awkward price: a call costs a fraction of a micro-dollar more than a round figure
ACTUAL = Decimal("0.004938271564")  # 4 output tokens × $0.001234567891 (input is free here)
WORST = Decimal("0.004939")  # the reservation: max_tokens 4 × the output price, rounded up to the micro-dollar


def statuses(responses):
    return [r.status_code for r in responses]


def assert_settled_to_the_ledger(redis_client, *budgets):
    for budget in budgets:
        assert status(redis_client, budget) == (ledger_pico(budget), 0, 0)
    assert open_reservation_sets(redis_client) == []


def test_it_admits_at_most_ten_calls_of_fifty_then_of_five_hundred_across_three_servers(
    redis_client, tenant, api_key
):
    priced_mock_route("race", output_per_mtok=OUT_PER_MTOK, latency_ms=100)
    key_budget = make_budget(tenant, WORST * 10, scope="key", api_key=api_key)
    # The burst comes from a user never seen before: its counter does not exist when 500 calls race to it.
    newcomer = make_member(tenant, "new@acme.test", "developer")
    _key, newcomer_secret = key_create(tenant=tenant, name="newcomer", owner=newcomer)
    user_budget = make_budget(tenant, WORST * 10, scope="user", user=newcomer)
    with GatewayServer() as one, GatewayServer() as two, GatewayServer() as three:
        urls = [one.url, two.url, three.url]
        first = asyncio.run(post_many(urls, api_key.secret, [chat_body("race")] * 50))
        burst = asyncio.run(post_many(urls, newcomer_secret, [chat_body("race")] * 500))
    assert statuses(first).count(200) == 10 and statuses(first).count(402) == 40
    assert statuses(burst).count(200) == 10 and statuses(burst).count(402) == 490
    refusal = next(r for r in first if r.status_code == 402).json()["error"]
    assert refusal["code"] == "budget_exceeded" and refusal["type"] == "billing_error"
    assert refusal["message"].startswith("key 'app' monthly budget of $0.04939 exhausted: $0.")
    assert refusal["message"].endswith("this call may cost up to $0.004939.")
    assert drain_until(redis_client, 550)
    assert ledger_pico(key_budget) == ledger_pico(user_budget) == money.to_pico(ACTUAL * 10)
    assert_settled_to_the_ledger(redis_client, key_budget, user_budget)


def test_it_keeps_the_counters_equal_to_the_ledger_over_mixed_calls(redis_client, tenant, api_key):
    """Odd prices, prompts of every length, streams and embeddings: to the pico-dollar, not just the cent."""
    priced_mock_route("mixed", input_per_mtok="0.37", output_per_mtok="1.234567")
    tenant_alert = make_budget(tenant, "0", action="alert")  # never blocks, always counts
    key_block = make_budget(tenant, "100", scope="key", api_key=api_key, period="daily")
    bodies = []
    for i in range(120):
        text = " ".join(["word"] * (i % 37 + 1))
        bodies.append(chat_body("mixed", max_tokens=64, text=text, stream=bool(i % 2)))
    embeddings = [{"model": "mixed", "input": ["alpha beta", "gamma " * (i + 1)]} for i in range(20)]
    with GatewayServer() as one, GatewayServer() as two:
        chats = asyncio.run(post_many([one.url, two.url], api_key.secret, bodies))
        vectors = asyncio.run(post_many([one.url, two.url], api_key.secret, embeddings, path="/v1/embeddings"))
    assert set(statuses(chats) + statuses(vectors)) == {200}
    assert drain_until(redis_client, 140)
    assert UsageRecord.objects.filter(cost_usd__gt=0).count() == 140
    assert ledger_pico(tenant_alert) > 0 and ledger_pico(tenant_alert) % 10**6 != 0  # sub-micro rests matter
    assert_settled_to_the_ledger(redis_client, tenant_alert, key_block)
