"""The limiters' semantics, the same on both backends: the in-process one and Redis."""
import asyncio

import pytest

from gateway.dataplane.limits import format_reset
from gateway.dataplane.limits.memory import MemoryLimiter
from gateway.dataplane.limits.redis_backend import RedisLimiter
from gateway.dataplane.redis_wire import WireRedis

from .limits_support import header, redis_url, rule


@pytest.fixture(params=["memory", "redis"])
async def limiter(request):
    if request.param == "memory":
        yield MemoryLimiter()
        return
    client = WireRedis(redis_url())
    yield RedisLimiter(client)
    await client.aclose()


async def admitted(limiter, rules, n, tokens=0):
    verdicts = await asyncio.gather(*(limiter.acquire(rules, tokens) for _ in range(n)))
    return [v for v in verdicts if v.admitted], [v for v in verdicts if not v.admitted]


async def test_it_admits_exactly_the_limit_out_of_many_concurrent_requests(limiter):
    ok, refused = await admitted(limiter, [rule(rpm=100)], 500)
    assert (len(ok), len(refused)) == (100, 400)


async def test_it_consumes_nothing_anywhere_when_one_limit_refuses(limiter):
    key, tenant = rule(rpm=10), rule(scope="tenant", label="tenant 'acme'", rpm=3)
    ok, refused = await admitted(limiter, [key, tenant], 5)
    assert len(ok) == 3 and all(v.refused is tenant for v in refused)
    alone = await limiter.acquire([key], 0)
    assert header(alone.headers(), "x-ratelimit-remaining-requests") == "6"  # 10 - 3 admitted - this one


async def test_it_names_the_scope_and_the_wait_in_a_429(limiter):
    key = rule(rpm=2)
    await admitted(limiter, [key], 2)
    verdict = await limiter.acquire([key], 0)
    err = verdict.error()
    assert (err.status, err.code) == (429, "rate_limited")
    assert err.message == "key 'ci' requests per minute limit of 2 reached"
    assert err.headers == {"x-switchyard-limit-scope": "key"}
    assert 59 <= err.retry_after <= 60  # the oldest request leaves the window a minute after it came
    assert header(verdict.headers(), "x-ratelimit-remaining-requests") == "0"
    assert header(verdict.headers(), "x-ratelimit-limit-requests") == "2"


async def test_it_reports_the_tightest_scope_in_the_headers(limiter):
    rules = [rule(rpm=100, tpm=1000), rule(scope="tenant", rpm=5, tpm=50_000)]
    verdict = await limiter.acquire(rules, 30)
    headers = verdict.headers()
    assert [header(headers, f"x-ratelimit-{h}-requests") for h in ("limit", "remaining")] == ["5", "4"]
    assert [header(headers, f"x-ratelimit-{h}-tokens") for h in ("limit", "remaining")] == ["1000", "970"]
    assert header(headers, "x-ratelimit-reset-requests") in ("59.999s", "1m0s")


async def test_it_holds_the_token_estimate_then_refunds_the_unused_part(limiter):
    tokens = rule(tpm=100)
    first = await limiter.acquire([tokens], 40)
    assert header(first.headers(), "x-ratelimit-remaining-tokens") == "60"
    await limiter.settle(first.lease, 10)
    second = await limiter.acquire([tokens], 5)
    assert header(second.headers(), "x-ratelimit-remaining-tokens") == "85"


async def test_it_charges_usage_above_the_estimate(limiter):
    tokens = rule(tpm=100)
    first = await limiter.acquire([tokens], 10)
    await limiter.settle(first.lease, 70)
    assert not (await limiter.acquire([tokens], 31)).admitted
    assert (await limiter.acquire([tokens], 30)).admitted


async def test_it_admits_tokens_up_to_the_limit_exactly(limiter):
    tokens = rule(tpm=100)
    ok, _ = await admitted(limiter, [tokens], 12, tokens=10)
    assert len(ok) == 10
    for verdict in ok:
        await limiter.settle(verdict.lease, 10)
    refused = await limiter.acquire([tokens], 1)
    assert refused.error().message == "key 'ci' tokens per minute limit of 100 reached"
    assert 59 <= refused.retry_after <= 60


async def test_it_refuses_a_request_larger_than_the_whole_tpm(limiter):
    verdict = await limiter.acquire([rule(tpm=100)], 101)
    message = "request needs about 101 tokens, more than key 'ci' tokens per minute limit of 100"
    assert verdict.error().message == message


async def test_it_caps_concurrency_and_frees_a_slot_on_settle(limiter):
    slots = rule(max_parallel=2)
    ok, refused = await admitted(limiter, [slots], 3)
    assert len(ok) == 2 and refused[0].error().message == "key 'ci' concurrent requests limit of 2 reached"
    assert refused[0].retry_after == 1
    await limiter.settle(ok[0].lease, 0)
    await limiter.settle(ok[0].lease, 0)  # settling twice gives back one slot, not two
    ok, _ = await admitted(limiter, [slots], 2)
    assert len(ok) == 1


async def test_it_refuses_everything_at_a_zero_limit(limiter):
    verdict = await limiter.acquire([rule(rpm=0)], 0)
    assert not verdict.admitted and verdict.retry_after == 60


async def test_it_needs_no_settling_for_requests_per_minute_alone(limiter):
    verdict = await limiter.acquire([rule(rpm=5)], 0)
    assert verdict.admitted and verdict.lease is None


def test_it_formats_resets_like_openai():
    assert [format_reset(ms) for ms in (0, 20, 1000, 1500, 59_999, 360_000, 3_723_000)] == [
        "0s", "20ms", "1s", "1.5s", "59.999s", "6m0s", "1h2m3s"]
