"""The window slides, slots of dead processes lapse, and a Redis outage fails closed (or open)."""
import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from gateway.dataplane.errors import GatewayError
from gateway.dataplane.limits import redis_backend
from gateway.dataplane.limits.memory import MemoryLimiter
from gateway.dataplane.limits.redis_backend import RedisLimiter
from gateway.dataplane.redis_wire import WireRedis
from tests.servers import free_port

from .limits_support import Clock, header, redis_url, rule


@pytest.fixture
async def redis_client():
    client = aioredis.Redis.from_url(redis_url())
    yield client
    await client.aclose()


@pytest.fixture
async def wire():
    client = WireRedis(redis_url())  # as the runtime builds the limiter's client
    yield client
    await client.aclose()


async def test_it_slides_the_request_window_by_each_request_s_own_minute():
    clock = Clock()
    limiter = MemoryLimiter(clock)
    key = rule(rpm=2)
    assert (await limiter.acquire([key], 0)).admitted
    clock.now += 30
    assert (await limiter.acquire([key], 0)).admitted
    clock.now += 20
    refused = await limiter.acquire([key], 0)
    assert not refused.admitted and refused.retry_after == pytest.approx(10)  # the first leaves at 60 s
    assert header(refused.headers(), "x-ratelimit-reset-requests") == "10s"
    clock.now += 10
    assert (await limiter.acquire([key], 0)).admitted
    assert not (await limiter.acquire([key], 0)).admitted  # the second is still inside its minute


async def test_it_admits_no_second_burst_across_a_minute_boundary():
    clock = Clock()
    clock.now = 59.5  # the end of a wall-clock minute: a fixed window would reset in half a second
    limiter = MemoryLimiter(clock)
    key = rule(rpm=100)
    first = await asyncio.gather(*(limiter.acquire([key], 0) for _ in range(500)))
    clock.now = 60.5
    second = await asyncio.gather(*(limiter.acquire([key], 0) for _ in range(500)))
    assert (sum(v.admitted for v in first), sum(v.admitted for v in second)) == (100, 0)
    assert {round(v.retry_after) for v in second} == {59}


async def test_it_frees_tokens_as_their_requests_leave_the_window():
    clock = Clock()
    limiter = MemoryLimiter(clock)
    tokens = rule(tpm=100)
    for used in (50, 30):
        verdict = await limiter.acquire([tokens], used)
        await limiter.settle(verdict.lease, used)
        clock.now += 10
    refused = await limiter.acquire([tokens], 40)
    assert refused.retry_after == pytest.approx(40)  # 20 + 40 > 100 until the 50 leave, 60 s after they came
    clock.now += 40
    assert (await limiter.acquire([tokens], 40)).admitted


async def test_it_counts_a_call_longer_than_the_window_from_its_end():
    clock = Clock()
    limiter = MemoryLimiter(clock)
    tokens = rule(tpm=100)
    verdict = await limiter.acquire([tokens], 10)
    clock.now += 90  # the estimate has left the window meanwhile
    await limiter.settle(verdict.lease, 70)
    assert header((await limiter.acquire([tokens], 0)).headers(), "x-ratelimit-remaining-tokens") == "30"


async def test_it_slides_the_redis_window_too(wire, monkeypatch):
    monkeypatch.setattr(redis_backend, "WINDOW_MS", 500)
    limiter = RedisLimiter(wire)
    key = rule(rpm=1)
    assert (await limiter.acquire([key], 0)).admitted
    refused = await limiter.acquire([key], 0)
    assert not refused.admitted and 0 < refused.retry_after <= 0.5
    await asyncio.sleep(refused.retry_after + 0.05)
    assert (await limiter.acquire([key], 0)).admitted


async def test_a_settle_leaves_every_token_counter_expiring_within_a_window(redis_client, wire, monkeypatch):
    limiter = RedisLimiter(wire)

    async def expiring(tokens, used):
        log, total = redis_backend._keys(tokens)[1:3]
        ttls = [await redis_client.pttl(log), await redis_client.pttl(total)]
        assert all(0 < ttl <= redis_backend.WINDOW_MS for ttl in ttls), ttls
        assert int(await redis_client.get(total)) == used
        return ttls[0]

    tokens = rule(tpm=1000)
    lease = (await limiter.acquire([tokens], 100)).lease
    await asyncio.sleep(0.01)  # the usual case, a call of more than a millisecond: the settle's ZREM
    await limiter.settle(lease, 80)  # empties the log, which Redis deletes, expiry and all, before the ZADD
    await expiring(tokens, 80)
    tokens = rule(tpm=1000)
    lease = (await limiter.acquire([tokens], 100)).lease
    await asyncio.sleep(0.01)
    await limiter.settle(lease, 100)  # the estimate was exact: the same entry stays
    await expiring(tokens, 100)
    lease = (await limiter.acquire([tokens], 50)).lease
    await limiter.settle(lease, 0)  # nothing used: the estimate goes back
    await expiring(tokens, 100)
    tokens = rule(tpm=1000)
    lease = (await limiter.acquire([tokens], 100)).lease
    await redis_client.delete(*redis_backend._keys(tokens)[1:3])  # the hold is gone (evicted, flushed)
    await limiter.settle(lease, 30)
    await expiring(tokens, 30)
    tokens = rule(tpm=1000)
    monkeypatch.setattr(redis_backend, "WINDOW_MS", 1000)
    lease = (await limiter.acquire([tokens], 100)).lease
    await asyncio.sleep(0.6)
    await limiter.acquire([tokens], 0)  # another request keeps the counters alive until 1.6 s
    await asyncio.sleep(0.5)  # the first call outlives the window: its use counts from its end (1.1 s) ...
    await limiter.settle(lease, 20)
    assert await expiring(tokens, 20) > 750  # ... so its entry stays a whole window, to 2.1 s
    tokens = rule(tpm=1000)
    monkeypatch.setattr(redis_backend, "WINDOW_MS", 300)
    lease = (await limiter.acquire([tokens], 100)).lease
    await asyncio.sleep(0.35)  # and when the counters lapsed meanwhile, they come back expiring
    await limiter.settle(lease, 5)
    await expiring(tokens, 5)


async def test_it_sums_the_tokens_log_again_when_its_total_was_lost_or_went_negative(redis_client, wire):
    """The total alone evicted (or flushed, or driven below zero by a settle after that) must not
    let a tokens limit admit more: the log still holds every entry, and the acquire sums it."""
    limiter = RedisLimiter(wire)
    tokens = rule(tpm=1000)
    log, total = redis_backend._keys(tokens)[1:3]
    for used in (300, 200):
        await limiter.settle((await limiter.acquire([tokens], used)).lease, used)
    assert int(await redis_client.get(total)) == 500

    async def left_after(need):
        verdict = await limiter.acquire([tokens], need)
        return verdict.admitted, header(verdict.headers(), "x-ratelimit-remaining-tokens")

    await redis_client.delete(total)  # evicted apart from its log
    assert await left_after(600) == (False, "500")  # 500 + 600 > 1000: counted from the log
    assert int(await redis_client.get(total)) == 500 and 0 < await redis_client.pttl(total)
    await redis_client.set(total, -400)
    assert await left_after(600) == (False, "500")
    lease = (await limiter.acquire([tokens], 100)).lease  # 600 held now
    await redis_client.delete(total)  # lost while the call runs: the settle's DECRBY goes below zero
    await limiter.settle(lease, 0)
    assert await redis_client.get(total) is None  # dropped rather than kept at a wrong value
    assert await left_after(400) == (True, "100")  # 500 + 400 admitted; the next acquire summed the log
    assert await redis_client.zcard(log) == 3


async def test_it_frees_the_slots_of_a_process_that_stopped_renewing(wire, monkeypatch):
    monkeypatch.setattr(redis_backend, "LEASE_TTL_S", 0.5)
    slots = rule(max_parallel=1)
    crashed = RedisLimiter(wire)
    assert (await crashed.acquire([slots], 0)).admitted
    crashed._renewer.cancel()  # as if its process died holding the slot
    other = RedisLimiter(wire)
    assert not (await other.acquire([slots], 0)).admitted
    await asyncio.sleep(0.6)
    assert (await other.acquire([slots], 0)).admitted


async def test_it_keeps_a_long_request_s_slot_by_renewing_it(wire, monkeypatch):
    monkeypatch.setattr(redis_backend, "LEASE_TTL_S", 0.5)
    monkeypatch.setattr(redis_backend, "RENEW_EVERY_S", 0.1)
    slots = rule(max_parallel=1)
    holder = RedisLimiter(wire)
    lease = (await holder.acquire([slots], 0)).lease
    await asyncio.sleep(1.0)  # twice the TTL
    assert not (await RedisLimiter(wire).acquire([slots], 0)).admitted
    await holder.settle(lease, 0)
    assert (await RedisLimiter(wire).acquire([slots], 0)).admitted
    await asyncio.sleep(0.2)
    assert holder._renewer.done()  # nothing held: the renewer ends


async def test_it_reloads_its_scripts_after_redis_forgot_them(redis_client, wire):
    limiter = RedisLimiter(wire)
    key = rule(rpm=5, tpm=100)
    await limiter.settle((await limiter.acquire([key], 1)).lease, 1)
    await redis_client.script_flush()
    await limiter.settle((await limiter.acquire([key], 1)).lease, 1)
    assert header((await limiter.acquire([key], 1)).headers(), "x-ratelimit-remaining-requests") == "2"


async def test_it_answers_503_when_redis_is_unreachable_unless_every_limit_fails_open(caplog):
    client = WireRedis(f"redis://127.0.0.1:{free_port()}/0")  # as the runtime builds its client
    down = RedisLimiter(client)
    for _ in range(3):
        with pytest.raises(GatewayError) as err:
            await down.acquire([rule(rpm=5), rule(rpm=5, fail_open=True)], 0)
        assert (err.value.status, err.value.code, err.value.retry_after) == (503, "rate_limit_unavailable", 1)
    verdict = await down.acquire([rule(rpm=5, fail_open=True)], 0)
    assert verdict.admitted and verdict.headers() == [] and verdict.lease is None
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["rate limits unavailable (ConnectionError): failing closed except for limits with fail_open"]
    await client.aclose()


async def test_it_logs_when_redis_answers_again(wire, caplog):
    limiter = RedisLimiter(wire)
    limiter._outage(ConnectionError())
    assert (await limiter.acquire([rule(rpm=1)], 0)).admitted
    assert "rate limits available again" in caplog.text
