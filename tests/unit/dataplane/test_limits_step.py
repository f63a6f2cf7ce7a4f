"""The rate-limit step with a fake `next`, the scopes it finds, and per-target limits."""
import asyncio
import dataclasses

import pytest

from gateway.dataplane import respond
from gateway.dataplane.canonical import Usage
from gateway.dataplane.errors import GatewayError
from gateway.dataplane.limits import TargetRateLimited, acquire_target, rules_for
from gateway.dataplane.limits import targets as targets_module
from gateway.dataplane.limits.memory import MemoryLimiter
from gateway.dataplane.limits.rules import estimate_tokens
from gateway.dataplane.steps import ratelimit

from .limits_support import header, make_ctx, make_target, snapshot_with


@pytest.fixture
def limiter(monkeypatch):
    limiter = MemoryLimiter()
    monkeypatch.setattr(ratelimit, "get_limiter", lambda: limiter)
    monkeypatch.setattr(targets_module, "get_limiter", lambda: limiter)
    return limiter


def calls(usage=None, raises=None):
    """A fake `next` that records its calls, sets usage, then raises if told."""
    seen = []

    async def next_step(ctx):
        seen.append(ctx)
        ctx.usage = usage
        if raises is not None:
            raise raises

    return next_step, seen


async def test_it_passes_through_without_headers_when_no_limit_applies(limiter):
    ctx = make_ctx()
    next_step, seen = calls()
    await ratelimit.rate_limit(ctx, next_step)
    assert seen == [ctx] and ctx.response_headers == [] and limiter._scopes == {}


async def test_it_adds_the_headers_and_answers_429_once_the_limit_is_reached(limiter):
    key_limits = {"rpm": 1}
    ctx = make_ctx(key_limits)
    await ratelimit.rate_limit(ctx, calls()[0])
    assert header(ctx.response_headers, "x-ratelimit-remaining-requests") == "0"
    again = make_ctx(key_limits)
    again.key = ctx.key
    with pytest.raises(GatewayError) as err:
        await ratelimit.rate_limit(again, calls()[0])
    assert err.value.status == 429 and err.value.headers["x-switchyard-limit-scope"] == "key"
    assert header(again.response_headers, "x-ratelimit-limit-requests") == "1"  # the 429 carries them too


async def test_it_reconciles_tokens_with_the_usage_of_the_call(limiter):
    ctx = make_ctx({"tpm": 1000})
    held = estimate_tokens(ctx)
    assert held == 5 + 10  # "hello world": 2 tokens + 3 of message framing, plus max_tokens
    await ratelimit.rate_limit(ctx, calls(Usage(input_tokens=2, output_tokens=5))[0])
    assert header(ctx.response_headers, "x-ratelimit-remaining-tokens") == str(1000 - held)
    assert limiter._scopes[f"k{ctx.key.id}"].total == 7


@pytest.mark.parametrize("failure", [GatewayError(502, "upstream_error", "boom"), asyncio.CancelledError()])
async def test_it_frees_the_slot_and_refunds_tokens_when_the_call_fails(limiter, failure):
    ctx = make_ctx({"max_parallel": 1, "tpm": 1000})
    with pytest.raises(type(failure)):
        await ratelimit.rate_limit(ctx, calls(raises=failure)[0])
    counters = limiter._scopes[f"k{ctx.key.id}"]
    assert (counters.leases, counters.total) == (set(), 0)


async def test_it_frees_the_slot_before_the_last_byte_reaches_the_client(limiter):
    ctx = make_ctx({"max_parallel": 1, "tpm": 1000})
    held_at_send = []

    async def send(message):
        counters = limiter._scopes[f"k{ctx.key.id}"]
        held_at_send.append((message.get("more_body", False), len(counters.leases), counters.total))

    async def answer(c):
        c.usage = Usage(input_tokens=2, output_tokens=5)
        await respond.start_stream(c)
        await respond.send_chunk(c, b"part")
        await respond.end_stream(c, b"end")

    ctx.send = send
    await ratelimit.rate_limit(ctx, answer)
    assert held_at_send == [(False, 1, 15), (True, 1, 15), (False, 0, 7)]  # settled, then the last byte


async def test_it_finds_the_user_team_tenant_and_route_limits():
    snapshot = snapshot_with(tenant={"rpm": 1000}, team={"tpm": 5000}, member={"max_parallel": 2}, member_team=5)
    ctx = make_ctx({"rpm": 10}, route_limits={"rpm": 100, "fail_open": True}, snapshot=snapshot)
    rules = rules_for(ctx)
    assert [(r.scope, r.label) for r in rules] == [
        ("key", "key 'ci'"), ("user", "user 'dev@acme.test'"), ("team", "team 'research'"),
        ("tenant", "tenant 'acme'"), ("route", "route 'mock'")]
    assert [(r.rpm, r.tpm, r.max_parallel, r.fail_open) for r in rules][1:3] == [
        (None, None, 2, False), (None, 5000, None, False)]
    assert rules[-1].fail_open


async def test_it_ignores_limits_that_only_say_fail_open():
    assert rules_for(make_ctx({"fail_open": True}, snapshot=snapshot_with(tenant={}))) == ()


def test_it_builds_a_key_and_route_s_rules_once_per_snapshot():
    ctx = make_ctx({"rpm": 10}, snapshot=snapshot_with(tenant={"rpm": 100}))
    rules = rules_for(ctx)
    assert rules_for(ctx) is rules
    same_ids = make_ctx({"rpm": 20}, snapshot=ctx.snapshot)  # another key object: never the first's rules
    same_ids.key = dataclasses.replace(same_ids.key, id=ctx.key.id)
    same_ids.route = dataclasses.replace(same_ids.route, id=ctx.route.id)
    assert rules_for(same_ids)[0].rpm == 20
    ctx.snapshot = snapshot_with(tenant={"rpm": 50})  # a new configuration
    assert [r.rpm for r in rules_for(ctx)] == [10, 50]


async def test_it_holds_a_target_slot_until_released(limiter):
    target = make_target({"max_parallel": 1})
    ctx = make_ctx(target=target)
    release = await acquire_target(ctx, target)
    with pytest.raises(TargetRateLimited) as err:
        await acquire_target(ctx, target)
    assert err.value.status == 429 and err.value.try_another_target
    assert err.value.message == "target 'mock-p/mock-1' concurrent requests limit of 1 reached"
    assert err.value.headers == {"x-switchyard-limit-scope": "target"}
    await release()
    await release()  # idempotent
    await (await acquire_target(ctx, target))()


async def test_it_reconciles_a_target_s_tokens_with_the_attempt_s_usage(limiter):
    target = make_target({"tpm": 40})
    ctx = make_ctx(target=target)
    release = await acquire_target(ctx, target)  # holds 15 of the estimate
    ctx.usage = Usage(input_tokens=2, output_tokens=5)
    await release()
    ctx.usage = None
    second = await acquire_target(ctx, target)
    assert limiter._scopes[f"x{ctx.route.id}.7.mock-1"].total == 7 + 15
    await second()
    assert limiter._scopes[f"x{ctx.route.id}.7.mock-1"].total == 7  # no usage: the attempt failed, all refunded


async def test_it_returns_a_no_op_release_for_a_target_without_limits(limiter):
    ctx = make_ctx()
    await (await acquire_target(ctx, ctx.route.targets[0]))()
    assert limiter._scopes == {}


async def test_it_delivers_the_answer_when_an_end_of_answer_hook_fails(caplog):
    ctx = make_ctx()
    sent = []

    async def send(message):
        sent.append(message)

    def broken(_ctx):
        raise RuntimeError("bookkeeping bug")

    ctx.send = send
    respond.at_end(ctx, broken)
    await respond.send_json(ctx, 200, b"{}")
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"] and sent[1]["body"] == b"{}"
    assert "end-of-answer hook failed: RuntimeError" in caplog.text


@pytest.mark.parametrize("stream", [False, True])
async def test_it_ends_the_answer_only_after_the_hooks_writes_have_left(stream):
    ctx = make_ctx()
    sent, leaving = [], asyncio.get_running_loop().create_future()

    async def send(message):
        sent.append(message)

    ctx.send = send
    respond.at_end(ctx, lambda _ctx: leaving)  # a hook whose Redis command is queued, not yet written
    respond.at_end(ctx, lambda _ctx: leaving)  # two writes of one loop turn: one wait
    if stream:
        await respond.start_stream(ctx)
    ending = asyncio.ensure_future(respond.end_stream(ctx) if stream else respond.send_json(ctx, 200, b"{}"))
    await asyncio.sleep(0.01)
    assert [m for m in sent if m["type"] == "http.response.body"] == []  # held back
    leaving.set_result(None)
    await ending
    assert sent[-1]["type"] == "http.response.body" and not sent[-1].get("more_body")
