"""The circuit breaker against real Redis: the Lua rules, ejection, probes, sharing between processes."""
import asyncio
import time

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from gateway.dataplane.resilience.board import BreakerBoard
from gateway.dataplane.resilience.policy import BreakerSettings
from gateway.dataplane.resilience.redis_store import RedisStore
from gateway.dataplane.resilience.store import CLAIM_BUSY, CLAIM_CLOSED, CLAIM_GRANTED
from tests.integration.dataplane.resilience_helpers import chat, models_sent, multi_route, provider, served_by
from tests.servers import GatewayServer
from tests.unit.dataplane.resilience_support import Clock


class Twins:
    """The same outcomes through the Redis store and the in-process store, on one fake clock."""

    def __init__(self, client):
        self.clock = Clock(time.time())
        self.shared = BreakerBoard(RedisStore(client), clock=self.clock)
        self.local = BreakerBoard(clock=self.clock)

    async def record(self, settings, outcomes):
        for ok in outcomes:
            self.shared.record(1, settings, ok)
            self.local.record(1, settings, ok)
        await self.shared.sync()

    async def claim(self):
        return await self.shared.claim_probe(1, 60), await self.local.claim_probe(1, 60)

    def views(self):
        return self.shared.open.get(1), self.local.open.get(1)


@pytest.fixture
async def twins(redis_client):
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    twins = Twins(client)
    yield twins
    await twins.shared.close()
    await client.aclose()


@pytest.mark.parametrize("outcomes", [
    [False] * 5,
    [False] * 4 + [True] + [False] * 4,
    [True, False] * 10,
    [False, True] * 10,
])
async def test_it_applies_the_same_rules_in_redis_as_in_process(twins, outcomes):
    await twins.record(BreakerSettings(), outcomes)
    shared, local = twins.views()
    assert shared == pytest.approx(local, abs=1e-3) if local else shared is None


async def test_it_probes_and_grows_the_cooldown_alike_in_redis(twins):
    s = BreakerSettings(cooldown_s=10, max_cooldown_s=25)
    await twins.record(s, [False] * 5)
    assert await twins.claim() == (CLAIM_BUSY, CLAIM_BUSY)
    for expected in (20, 25):
        twins.clock.advance(twins.shared.open[1] - twins.clock.now + 0.01)
        assert await twins.claim() == (CLAIM_GRANTED, CLAIM_GRANTED)
        assert await twins.claim() == (CLAIM_BUSY, CLAIM_BUSY)
        for board in (twins.shared, twins.local):
            board.settle_probe(1, s, False)
        await _settled(twins.shared)
        shared, local = twins.views()
        assert shared - twins.clock.now == pytest.approx(expected, abs=1e-3)
        assert local == pytest.approx(shared, abs=1e-3)
    twins.clock.advance(25)
    assert await twins.claim() == (CLAIM_GRANTED, CLAIM_GRANTED)
    for board in (twins.shared, twins.local):
        board.settle_probe(1, s, True)
    await _settled(twins.shared)
    assert twins.views() == (None, None)
    assert await twins.claim() == (CLAIM_CLOSED, CLAIM_CLOSED)


async def _settled(board):
    await asyncio.gather(*board._background)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_it_ejects_a_dead_target_then_probes_it_after_the_cooldown(redis_client, api_key, fake_openai):
    dead, alive = provider("dead", "openai", fake_openai.base_url), provider("alive", "openai", fake_openai.base_url)
    multi_route("pair", [(dead, "gpt-4o-mini~status:503", 1), (alive, "gpt-4o-mini", 1)], strategy="round_robin",
                breaker={"failures": 3, "cooldown_s": 1.0})
    with GatewayServer() as server:
        answers = [chat(server, api_key, "pair") for _ in range(10)]
        dead_calls = models_sent(fake_openai).count("gpt-4o-mini~status:503")
        time.sleep(1.2)  # the cooldown: the next pick of `dead` is its one probe
        later = [served_by(chat(server, api_key, "pair"))[1] for _ in range(6)]
        after_probe = models_sent(fake_openai).count("gpt-4o-mini~status:503")
    assert all(a.status_code == 200 and served_by(a)[1] == "alive" for a in answers)
    assert dead_calls == 3  # one per request until the threshold; then no attempt at all
    assert later == ["alive"] * 6
    assert after_probe == dead_calls + 1  # the probe failed: ejected again (for 2 s now)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_it_rejects_fast_while_open_and_closes_after_a_good_probe(redis_client, api_key, fake_openai):
    flaky = provider("flaky", "openai", fake_openai.base_url)
    multi_route("solo", [(flaky, "gpt-4o-mini", 1)], retry={"max_retries": 0},
                breaker={"failures": 3, "cooldown_s": 1.0})
    fake_openai.set_scenario("status:503")
    with GatewayServer() as one, GatewayServer() as two:
        tripped = [chat(one, api_key, "solo").status_code for _ in range(3)]
        rejected = [chat(server, api_key, "solo") for server in (one, two, one, two)]
        attempts_while_open = fake_openai.attempts
        fake_openai.set_scenario(None)
        time.sleep(1.2)
        healed = [chat(server, api_key, "solo").status_code for server in (one, one, two, two)]
    assert tripped == [502, 502, 502]
    assert all(r.status_code == 503 and r.json()["error"]["code"] == "upstream_unavailable" for r in rejected)
    assert all(r.headers["retry-after"] == "1" for r in rejected)
    assert attempts_while_open == 3  # open on both processes: 0 upstream attempts
    assert healed == [200] * 4 and fake_openai.attempts == 7
