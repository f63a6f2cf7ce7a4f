"""The attempt loop with a scripted exchange: retries, budget, backoff, fallbacks, first-byte rule."""
import asyncio

import pytest

from gateway.dataplane.errors import GatewayError, ProviderError
from gateway.dataplane.resilience import failover
from gateway.dataplane.resilience.failover import fallback_chain, serve
from tests.unit.dataplane.resilience_support import context, resilience, route, snapshot

FAST = {"backoff_ms": 10, "max_backoff_ms": 100}


def e503():
    return ProviderError(503, "overloaded", retryable=True, code="upstream_503")


def e429(retry_after=None):
    return ProviderError(429, "slow down", retryable=True, retry_after=retry_after, code="rate_limit_exceeded")


def e400(message="bad request", code="invalid_request_error"):
    return ProviderError(400, message, permanent=True, code=code)


class Upstream:
    """exchange(ctx) answering per target id: an exception to raise, or None to succeed."""

    def __init__(self, **by_target):
        self.by_target = {int(k[1:]): v for k, v in by_target.items()}
        self.calls: list[int] = []

    async def __call__(self, ctx):
        self.calls.append(ctx.target.id)
        outcome = self.by_target.get(ctx.target.id)
        if callable(outcome):
            outcome = await outcome(ctx)
        if isinstance(outcome, BaseException):
            raise outcome
        ctx.status, ctx.response_started = 200, True


@pytest.fixture
def waits(monkeypatch):
    seen = []

    async def record(seconds):
        seen.append(seconds)

    monkeypatch.setattr(failover, "sleep", record)
    return seen


async def run(ctx, upstream, state=None):
    await serve(ctx, upstream, state or resilience())


async def test_it_retries_a_5xx_on_the_other_target_and_logs_every_attempt(waits):
    r = route(weights=(1, 1), strategy="round_robin", retry=FAST)  # round robin: target 10 comes first
    upstream = Upstream(t10=e503())
    ctx = context(snapshot(r), r)
    await run(ctx, upstream)
    assert upstream.calls == [10, 11] and ctx.target.id == 11 and len(waits) == 1
    assert ctx.attempts == 2
    first, second = ctx.state["attempt_log"]
    assert first | {"ms": 0} == {"route": "r1", "provider": "p10", "model": "m", "status": 503,
                                 "error": "upstream_503", "ms": 0}
    assert (second["provider"], second["status"], second["error"]) == ("p11", 200, "")


async def test_it_makes_at_most_one_plus_max_retries_attempts_per_route(waits):
    r = route(weights=(1, 1), retry={**FAST, "max_retries": 3})
    upstream = Upstream(t10=e503(), t11=e503())
    with pytest.raises(GatewayError) as err:
        await run(context(snapshot(r), r), upstream)
    assert len(upstream.calls) == 4 and err.value.status == 502
    assert len(waits) == 3 and all(0 <= w <= min(0.1, 0.01 * 2 ** i) for i, w in enumerate(waits))


async def test_it_never_retries_a_permanent_4xx(waits):
    r = route(weights=(1, 1), retry=FAST, fallbacks=(2,))
    fallback = route(2)
    upstream = Upstream(t10=e400(), t11=e400())
    with pytest.raises(GatewayError) as err:
        await run(context(snapshot(r, fallback), r), upstream)
    assert len(upstream.calls) == 1 and err.value.status == 400 and not waits


async def test_it_does_not_retry_errors_outside_retry_on(waits):
    r = route(weights=(1, 1), retry={**FAST, "retry_on": ["connection", "timeout"]})
    upstream = Upstream(t10=e503(), t11=e503())
    with pytest.raises(GatewayError):
        await run(context(snapshot(r), r), upstream)
    assert len(upstream.calls) == 1


async def test_it_falls_back_when_the_targets_are_exhausted(waits):
    r = route(1, weights=(1,), retry=FAST, fallbacks=(2,))
    fallback = route(2, weights=(1,))
    upstream = Upstream(t10=e503())
    ctx = context(snapshot(r, fallback), r)
    await run(ctx, upstream)
    assert upstream.calls == [10, 10, 10, 20]
    assert (ctx.route.name, ctx.target.provider.name) == ("r2", "p20")
    assert ctx.state["requested_route"] is r
    assert [a["route"] for a in ctx.state["attempt_log"]] == ["r1", "r1", "r1", "r2"]


@pytest.mark.parametrize("error, reason", [
    (e400("This model's maximum context length is 8192 tokens.", "context_length_exceeded"), "context_window"),
    (e400("prompt is too long: 208000 tokens > 200000 maximum"), "context_window"),
    (e400("The response was filtered", "content_filter"), "content_policy"),
])
async def test_it_falls_back_on_context_window_and_content_policy(waits, error, reason):
    r = route(1, weights=(1,), fallbacks=(2,))
    ctx = context(snapshot(r, route(2, weights=(1,))), r)
    upstream = Upstream(t10=error)
    await run(ctx, upstream)
    assert upstream.calls == [10, 20]

    off = route(1, weights=(1,), fallbacks=(2,), retry={"fallback_on": []})
    upstream = Upstream(t10=error)
    with pytest.raises(GatewayError):
        await run(context(snapshot(off, route(2, weights=(1,))), off), upstream)
    assert upstream.calls == [10], reason


def test_it_follows_fallbacks_in_order_once_each_despite_cycles():
    a, b, c, d = route(1, fallbacks=(2, 3)), route(2, fallbacks=(1, 4)), route(3, fallbacks=(2,)), route(4)
    assert [r.id for r in fallback_chain(snapshot(a, b, c, d), a)] == [2, 4, 3]


async def test_it_never_retries_once_a_byte_reached_the_client(waits):
    async def cut_mid_stream(ctx):
        ctx.response_started = True
        return ProviderError.connection("broke mid-stream")

    r = route(1, weights=(1, 1), fallbacks=(2,))
    upstream = Upstream(t10=cut_mid_stream, t11=cut_mid_stream)
    with pytest.raises(GatewayError) as err:
        await run(context(snapshot(r, route(2)), r), upstream)
    assert len(upstream.calls) == 1 and err.value.status == 502


async def test_it_retries_a_429_on_another_target_and_cools_the_first_down(waits):
    r = route(weights=(1, 1), strategy="round_robin", retry=FAST)
    state = resilience()
    upstream = Upstream(t10=e429(retry_after=30))
    ctx = context(snapshot(r), r)
    await run(ctx, upstream, state)
    assert upstream.calls == [10, 11] and state.board.cool[10] == state.board.clock() + 30
    for _ in range(3):
        await run(context(snapshot(r), r), upstream, state)
    assert upstream.calls == [10, 11, 11, 11, 11]


async def test_it_waits_out_a_short_retry_after_on_a_lone_target(waits):
    r = route(weights=(1,), retry=FAST | {"max_backoff_ms": 2000})
    upstream = Upstream(t10=e429(retry_after=1.5))
    with pytest.raises(GatewayError):
        await run(context(snapshot(r), r), upstream, resilience())
    assert waits and waits[0] >= 1.5


async def test_it_gives_up_on_a_429_whose_retry_after_exceeds_max_backoff(waits):
    r = route(weights=(1,), retry=FAST)
    upstream = Upstream(t10=e429(retry_after=60))
    with pytest.raises(GatewayError) as err:
        await run(context(snapshot(r), r), upstream)
    assert upstream.calls == [10] and (err.value.status, err.value.retry_after) == (429, 60)


async def test_it_stops_retrying_when_the_budget_is_spent(waits):
    r = route(weights=(1, 1), retry=FAST)
    state = resilience()
    state.budget.retrying = 3  # three retries already running, one request active: the floor is used up
    upstream = Upstream(t10=e503(), t11=e503())
    with pytest.raises(GatewayError):
        await run(context(snapshot(r), r), upstream, state)
    assert len(upstream.calls) == 1 and state.budget.refused == 1


async def test_it_bounds_a_route_by_its_total_timeout_then_falls_back():
    async def hang(ctx):
        await asyncio.Event().wait()

    r = route(1, weights=(1,), timeouts={"total": 0.05}, fallbacks=(2,))
    upstream = Upstream(t10=hang)
    ctx = context(snapshot(r, route(2, weights=(1,))), r)
    await run(ctx, upstream)
    assert upstream.calls == [10, 20]
    assert ctx.state["attempt_log"][0]["error"] == "upstream_timeout"


async def test_it_skips_an_ejected_lone_target_straight_to_the_fallback(waits):
    r = route(1, weights=(1,), fallbacks=(2,))
    state = resilience()
    state.board.open[10] = state.board.clock() + 30
    upstream = Upstream()
    ctx = context(snapshot(r, route(2, weights=(1,))), r)
    await run(ctx, upstream, state)
    assert upstream.calls == [20]


async def test_it_opens_the_breaker_from_the_attempts_it_makes(waits):
    r = route(weights=(1,), retry=FAST)
    state = resilience()
    upstream = Upstream(t10=e503())
    for _ in range(2):
        with pytest.raises(GatewayError):
            await run(context(snapshot(r), r), upstream, state)
    assert len(upstream.calls) == 5 and 10 in state.board.open  # 3 + 2: no sixth attempt
    with pytest.raises(GatewayError) as err:
        await run(context(snapshot(r), r), upstream, state)
    assert len(upstream.calls) == 5 and err.value.status == 503
