"""Budgets with Redis healthy: no call under a hard budget with room is refused as unavailable.

The issue's finding: 4 of ~500 budget-routed calls got 503 budget_unavailable with Redis up. The
reserve went through redis-py's blocking pool (REDIS_POOL_SIZE connections, 2-s wait); a burst with
more commands in flight than connections left some waiting past 2 s, and the pool's "No connection
available." mapped to budget_unavailable. The counters now use the pipelined client (no pool).
"""
import asyncio
import collections

import httpx
import pytest
import redis.asyncio as aioredis
from django.conf import settings

from gateway.dataplane import runtime as runtime_module
from gateway.dataplane.budgets.plan import counter
from gateway.dataplane.budgets.store import SyncRedisCounters
from gateway.dataplane.redis_wire import WireRedis
from gateway.dataplane.runtime import REDIS_POOL_SIZE
from gateway.dataplane.steps import budget as budget_step
from tests.integration.dataplane.budget_support import chat_body, make_budget, priced_mock_route
from tests.servers import GatewayServer
from tests.unit.dataplane.test_budget_step import ACTUAL_PICO, NOW, answered, budget, make_ctx

pytestmark = [pytest.mark.django_db(transaction=True)]
CALLS = 2000  # four times the issue's ~500
IN_FLIGHT = 1000  # at once: five times the old pool (REDIS_POOL_SIZE), so a pool would have to queue
POOL_WAIT_S = 2  # as the runtime's pool: how long a command waits for a free connection


async def _post_all(url, secret, bodies):
    """Every body, IN_FLIGHT at a time; (status, error code) of each.

    A semaphore rather than httpx's pool queue: with hundreds of requests queued in the pool the
    client itself spends minutes on its queue (measured: 1,000 calls over 200 connections, 105 s)."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=0)  # as post_many: no reuse race
    async with httpx.AsyncClient(timeout=120, limits=limits, headers={"Authorization": f"Bearer {secret}"}) as client:
        async def one(body):
            async with gate:
                response = await client.post(url + "/v1/chat/completions", json=body)
            return response.status_code, response.json().get("error", {}).get("code", "")
        return await asyncio.gather(*(one(body) for body in bodies))


@pytest.mark.slow
def test_it_answers_every_call_under_a_hard_budget_with_room_while_redis_is_healthy(redis_client, tenant, api_key):
    priced_mock_route("roomy", output_per_mtok="1")
    make_budget(tenant, "1000", scope="key", api_key=api_key)  # $1,000: each call reserves $0.000004
    with GatewayServer() as server:
        answers = asyncio.run(_post_all(server.url, api_key.secret, [chat_body("roomy")] * CALLS))
        log = server.output()
    assert collections.Counter(answers) == {(200, ""): CALLS}, (collections.Counter(answers), log[-3000:])
    assert "budget counters unreachable" not in log


@pytest.fixture
async def runtime(redis_client):
    """The data plane's runtime with its Redis clients made as Runtime.start() makes them (its
    snapshot and usage sink are not needed here, so no database thread is left behind)."""
    runtime_module.reset_runtime()
    runtime = runtime_module.get_runtime()
    pool = aioredis.BlockingConnectionPool.from_url(settings.REDIS_URL, max_connections=REDIS_POOL_SIZE,
                                                    timeout=POOL_WAIT_S)
    runtime.redis, runtime.wire = aioredis.Redis(connection_pool=pool), WireRedis(settings.REDIS_URL)
    yield runtime
    await runtime.redis.aclose()
    await runtime.wire.aclose()
    runtime_module.reset_runtime()


async def test_it_reserves_a_budget_while_every_pooled_redis_connection_is_taken(runtime, redis_client):
    """Other users of the pool (usage stream, breaker board) may hold every connection for a while."""
    pool = runtime.redis.connection_pool
    taken = [await pool.get_connection() for _ in range(REDIS_POOL_SIZE)]
    hard = budget(1, "tenant", 1, 10**9, period="total")  # $1,000 of room; a total budget never expires
    try:
        await budget_step.enforce_budgets(make_ctx(hard), answered)
    finally:
        for connection in taken:
            await pool.release(connection)
    # Reserved, then settled to the fake upstream's cost: nothing is left held.
    assert SyncRedisCounters(redis_client).status(counter(hard, NOW)) == (ACTUAL_PICO, 0, 0)
