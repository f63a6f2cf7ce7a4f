"""Target choice: each strategy with a fixed seed, health filtering, canary stickiness."""
from collections import Counter

from gateway.dataplane.errors import GatewayError
from gateway.dataplane.resilience.policy import smooth_cycle
from gateway.dataplane.steps.balance import choose_target, usable
from tests.unit.dataplane.resilience_support import Clock, context, prices, resilience, route, snapshot


async def picks(r, n, state=None, ctx=None, **ctx_kwargs):
    state = state or resilience()
    ctx = ctx or context(snapshot(r), r, **ctx_kwargs)
    out = []
    for _ in range(n):
        target, _probe = await choose_target(ctx, r, r.policy, state)
        out.append(target.id)
    return out


async def test_it_splits_weighted_picks_by_weight():
    r = route(weights=(3, 1))
    counts = Counter(await picks(r, 4000))
    assert abs(counts[10] / 4000 - 0.75) < 0.03


async def test_it_never_picks_a_target_of_weight_zero():
    r = route(weights=(0, 1))
    assert set(await picks(r, 200)) == {11}


def test_it_builds_nginx_smooth_round_robin_cycles():
    assert smooth_cycle([5, 1, 1]) == (0, 0, 1, 0, 2, 0, 0)
    assert smooth_cycle([10, 20]) == (1, 0, 1)  # reduced by the gcd
    assert len(smooth_cycle([999_999, 1])) <= 1000


async def test_it_rotates_round_robin_in_weight_order():
    r = route(weights=(2, 1), strategy="round_robin")
    assert await picks(r, 6) == [10, 11, 10, 10, 11, 10]


async def test_it_round_robins_over_the_targets_still_usable():
    r = route(weights=(1, 1, 1), strategy="round_robin")
    state = resilience()
    state.board.open[11] = state.board.clock() + 30
    assert await picks(r, 4, state) == [10, 12, 12, 10]


async def test_it_prefers_the_target_with_fewest_attempts_in_flight_per_weight():
    r = route(weights=(1, 1, 2), strategy="least_inflight")
    state = resilience()
    state.signals.inflight.update({10: 3, 11: 1, 12: 5})  # loads (n+1)/weight: 4, 2, 3
    assert await picks(r, 5, state) == [11] * 5
    state.signals.inflight[11] = 9
    assert await picks(r, 3, state) == [12] * 3


async def test_it_prefers_the_lowest_latency_after_measuring_each_target():
    r = route(weights=(1, 1, 1), strategy="lowest_latency")
    state = resilience()
    for ident, seconds in ((10, 0.30), (11, 0.05), (12, 0.20)):
        state.signals.observe(ident, seconds)
    counts = Counter(await picks(r, 1000, state))
    assert counts[11] > 950  # the rest is the 5 % exploration, spread by weight
    assert counts[10] and counts[12]


async def test_it_measures_every_target_before_trusting_latencies():
    r = route(weights=(1, 1, 1), strategy="lowest_latency")
    state = resilience()
    state.signals.observe(10, 0.01)
    assert set(await picks(r, 20, state)) == {11, 12}


async def test_it_picks_the_cheapest_target_and_unpriced_ones_last():
    r = route(weights=(1, 1, 1), strategy="lowest_cost")
    snap = snapshot(r, price_table=prices(t10=("0.000003", "0.000006"), t12=("0.000001", "0.000002")))
    assert set(await picks(r, 50, ctx=context(snap, r))) == {12}
    state = resilience()
    state.board.open[12] = state.board.clock() + 30
    assert set(await picks(r, 50, state, ctx=context(snap, r))) == {10}  # priced beats unknown (11)


async def test_it_keeps_each_caller_on_its_canary_variant():
    r = route(weights=(1, 1), canary={"sticky": "key"})
    for key_id in range(20):
        assert len(set(await picks(r, 10, key_id=key_id))) == 1


async def test_it_splits_canary_callers_by_weight():
    r = route(weights=(9, 1), canary={"sticky": "user"})
    variants = Counter([(await picks(r, 1, user_id=user))[0] for user in range(2000)])
    assert abs(variants[11] / 2000 - 0.1) < 0.03


async def test_it_moves_a_canary_caller_only_while_its_variant_is_out():
    r = route(weights=(1, 1), canary={"sticky": "key"})
    state = resilience()
    home = (await picks(r, 1, state, key_id=5))[0]
    state.board.open[home] = state.board.clock() + 30
    assert set(await picks(r, 5, state, key_id=5)) == {21 - home}  # 10 <-> 11
    del state.board.open[home]
    assert set(await picks(r, 5, state, key_id=5)) == {home}


def test_it_skips_open_breakers_and_cooling_targets():
    r = route(weights=(1, 1, 1, 1))
    state = resilience()
    now = state.board.clock()
    state.board.open[10] = now + 30
    state.board.cool[11] = now + 5
    candidates, half_open = usable(r.policy, state.board, now)
    assert [t.id for t in candidates] == [12, 13] and not half_open


def test_it_never_ejects_more_than_half_the_targets_of_a_route():
    r = route(weights=(1, 1, 1, 1))
    state = resilience()
    now = state.board.clock()
    state.board.open.update({10: now + 10, 11: now + 40, 12: now + 20})
    candidates, _ = usable(r.policy, state.board, now)
    assert [t.id for t in candidates] == [10, 13]  # two stay out; 10, due back first, is let in


def test_it_offers_a_half_open_target_as_a_probe():
    r = route(weights=(1, 1))
    state = resilience()
    now = state.board.clock()
    state.board.open[10] = now - 1
    candidates, half_open = usable(r.policy, state.board, now)
    assert [t.id for t in candidates] == [10, 11] and half_open == {10}


async def test_it_claims_the_one_probe_of_a_half_open_target():
    r = route(weights=(1,))
    clock = Clock()
    state = resilience(clock=clock)
    for _ in range(5):
        state.board.record(10, r.policy.breaker, ok=False)
    clock.advance(31)
    ctx = context(snapshot(r), r)
    assert await choose_target(ctx, r, r.policy, state) == (r.targets[0], True)
    busy = await choose_target(ctx, r, r.policy, state)
    assert isinstance(busy, GatewayError) and busy.status == 503 and busy.retry_after >= 1


async def test_it_answers_503_with_retry_after_while_every_target_is_ejected():
    r = route(weights=(1,))
    state = resilience()
    state.board.open[10] = state.board.clock() + 30
    err = await choose_target(context(snapshot(r), r), r, r.policy, state)
    assert (err.status, err.code, err.retry_after) == (503, "upstream_unavailable", 30)


async def test_it_answers_429_while_every_target_cools_down_after_a_429():
    r = route(weights=(1, 1))
    state = resilience()
    state.board.cool_down(10, 3)
    state.board.cool_down(11, 8)
    err = await choose_target(context(snapshot(r), r), r, r.policy, state)
    assert (err.status, err.code, err.retry_after) == (429, "upstream_rate_limited", 3)


async def test_it_prefers_targets_this_request_has_not_tried():
    r = route(weights=(100, 1))
    state = resilience()
    ctx = context(snapshot(r), r)
    assert {(await choose_target(ctx, r, r.policy, state, tried=[10]))[0].id for _ in range(20)} == {11}
    assert (await choose_target(ctx, r, r.policy, state, tried=[10, 11]))[0].id in (10, 11)


def test_it_takes_a_target_back_once_its_cooldown_ended():
    r = route(weights=(1, 1))
    state = resilience()
    state.board.cool_down(10, 5)
    assert [t.id for t in usable(r.policy, state.board, state.board.clock())[0]] == [11]
    candidates, _ = usable(r.policy, state.board, state.board.clock() + 5)
    assert candidates is r.policy.targets and not state.board.cool  # back on the fast path
