"""The budget step with in-process counters and a fake `next`: admit, refuse, downgrade, settle, fail over."""
import asyncio
import logging
from decimal import Decimal
from types import MappingProxyType

import pytest

from gateway.dataplane.budgets import engine as engine_module
from gateway.dataplane.budgets.engine import BudgetEngine
from gateway.dataplane.budgets.local import LocalCounters
from gateway.dataplane.budgets.plan import BudgetInfo, counter, subject_index
from gateway.dataplane.canonical import Target, Usage
from gateway.dataplane.context import RequestContext
from gateway.dataplane.errors import GatewayError
from gateway.dataplane.snapshot import KeyInfo, Price, ProviderInfo, RouteInfo, Snapshot, TargetInfo
from gateway.dataplane.steps import budget as budget_step

EMPTY = MappingProxyType({})
NOW = 1_750_000_000.0
# Per token: premium $1/$2 per million in/out, cheap a tenth of that.
PRICES = {(1, "big"): Price(Decimal("1e-6"), Decimal("2e-6"), Decimal("1e-6"), "test"),
          (2, "small"): Price(Decimal("1e-7"), Decimal("2e-7"), Decimal("1e-7"), "test")}
KEY = KeyInfo(id=11, prefix="p", secret_hash="h", tenant_id=1, team_id=2, user_id=3, name="app", route_ids=None,
              limits=EMPTY, expires_at=None)
# "hi" counts 1 token + 3 of message framing; 10 output tokens: 4 × $1e-6 + 10 × $2e-6.
WORST = 24  # micro-dollars
ACTUAL_PICO = 4 * 10**6 + 5 * 2 * 10**6  # the fake upstream reports 4 in, 5 out


def _route(rid, name, provider_id, model, cap=None) -> RouteInfo:
    provider = ProviderInfo(id=provider_id, name=f"p{provider_id}", kind="mock", base_url="", api_key="",
                            headers=EMPTY, options=EMPTY, connect_timeout=None, first_byte_timeout=None,
                            idle_timeout=None)
    target = TargetInfo(provider=provider, model=model, weight=1, wire=Target("mock", model=model))
    return RouteInfo(id=rid, tenant_id=None, name=name, strategy="weighted", targets=(target,), fallback_ids=(),
                     timeouts=EMPTY, cache=EMPTY, limits=EMPTY, max_tokens_cap=cap, created=0)


ROUTES = {1: _route(1, "premium", 1, "big"), 2: _route(2, "cheap", 2, "small", cap=6)}


def budget(bid, scope, subject, micro, action="block", **fields) -> BudgetInfo:
    values = dict(id=bid, tenant_id=1, scope=scope, subject_id=subject, name=f"{scope}-{subject}", route_id=None,
                  route_name="", amount_micro=micro, period="monthly", action=action, downgrade_route_id=None,
                  time_zone="UTC", created=0.0)
    return BudgetInfo(**(values | fields))


def make_ctx(*budgets, max_tokens=10) -> RequestContext:
    table = {}
    for b in budgets:
        table.setdefault(subject_index(b.scope, b.tenant_id, b.subject_id), []).append(b)
    snapshot = Snapshot(version=1, built_at=NOW, keys_by_prefix=EMPTY, routes_by_id=MappingProxyType(ROUTES),
                        routes_by_name=MappingProxyType({(None, r.name): r for r in ROUTES.values()}),
                        prices=MappingProxyType(PRICES),
                        budgets=MappingProxyType({k: tuple(v) for k, v in table.items()}))
    canonical = {"model": "premium", "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens}
    return RequestContext(scope={}, send=None, request_id="r1", ingress="openai", endpoint="chat", method="POST",
                          headers={}, raw_body=b"", snapshot=snapshot, started_wall=NOW, started=0.0,
                          canonical=canonical, key=KEY, route=ROUTES[1])


@pytest.fixture
def engine(monkeypatch):
    engine = BudgetEngine(LocalCounters(clock=lambda: NOW))
    monkeypatch.setattr(budget_step, "process_engine", lambda: engine)
    return engine


async def answered(ctx):
    """The fake upstream: answered by the route's target with 4 input and 5 output tokens."""
    ctx.target = ctx.route.targets[0]
    ctx.usage = Usage(input_tokens=4, output_tokens=5)


def status(engine, b):
    return engine.store.status(counter(b, NOW))


async def test_it_skips_the_counters_when_no_budget_applies(monkeypatch):
    monkeypatch.setattr(budget_step, "process_engine", lambda: pytest.fail("no budget, no counters"))
    other_team = budget(1, "team", 99, 0)
    other_route = budget(2, "tenant", 1, 0, route_id=2, route_name="cheap")
    ctx = make_ctx(other_team, other_route)
    await budget_step.enforce_budgets(ctx, answered)
    assert ctx.usage is not None


async def test_it_admits_only_as_many_calls_as_their_worst_case_fits(engine):
    tenant = budget(1, "tenant", 1, 3 * WORST)
    gate, results = asyncio.Event(), []

    async def held(ctx):
        await gate.wait()  # every admitted call holds its reservation until the gate opens
        await answered(ctx)

    async def one():
        try:
            await budget_step.enforce_budgets(make_ctx(tenant), held)
            results.append("ok")
        except GatewayError as err:
            results.append(err.status)

    tasks = [asyncio.ensure_future(one()) for _ in range(5)]
    await asyncio.sleep(0.01)
    assert status(engine, tenant).reserved_micro == 3 * WORST and sorted(map(str, results)) == ["402", "402"]
    gate.set()
    await asyncio.gather(*tasks)
    assert results.count("ok") == 3
    assert status(engine, tenant) == (3 * ACTUAL_PICO, 0, 0)


async def test_it_names_the_tightest_budget_in_the_402(engine):
    tenant, team = budget(1, "tenant", 1, 1000), budget(2, "team", 2, 23, name="ml")
    key, alert = budget(3, "key", 11, 20, name="app"), budget(4, "user", 3, 0, action="alert")
    with pytest.raises(GatewayError) as refused:
        await budget_step.enforce_budgets(make_ctx(tenant, team, key, alert), answered)
    assert (refused.value.status, refused.value.code, refused.value.type) == (402, "budget_exceeded", "billing_error")
    assert refused.value.message == ("key 'app' monthly budget of $0.00002 exhausted: $0.00002 left, "
                                     "this call may cost up to $0.000024.")
    with pytest.raises(GatewayError) as refused:  # the key's budget raised: the team's is now the tightest
        await budget_step.enforce_budgets(make_ctx(tenant, team, budget(3, "key", 11, 10**6), alert), answered)
    assert refused.value.message.startswith("team 'ml' monthly budget of $0.000023 exhausted: $0.000023 left")
    assert status(engine, tenant) == (0, 0, 0)  # a refusal reserves nothing anywhere


async def test_it_settles_every_budget_to_the_actual_cost(engine):
    budgets = [budget(1, "tenant", 1, 10**6), budget(2, "team", 2, 10**6), budget(3, "key", 11, 10**6),
               budget(4, "user", 3, 10**6, action="alert")]
    await budget_step.enforce_budgets(make_ctx(*budgets), answered)
    assert [status(engine, b) for b in budgets] == [(ACTUAL_PICO, 0, 0)] * 4


async def test_it_releases_the_hold_when_the_upstream_fails(engine):
    tenant = budget(1, "tenant", 1, 10**6)

    async def failed(ctx):
        raise GatewayError(502, "upstream_error", "boom")

    with pytest.raises(GatewayError):
        await budget_step.enforce_budgets(make_ctx(tenant), failed)
    assert status(engine, tenant) == (0, 0, 0)


async def test_it_charges_what_was_delivered_when_the_client_leaves(engine):
    tenant = budget(1, "tenant", 1, 10**6)

    async def cut_short(ctx):
        ctx.target = ctx.route.targets[0]
        ctx.usage = Usage(input_tokens=4, output_tokens=2, estimated=True)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await budget_step.enforce_budgets(make_ctx(tenant), cut_short)
    assert status(engine, tenant) == (4 * 10**6 + 2 * 2 * 10**6, 0, 0)


async def test_it_downgrades_to_the_cheaper_route_instead_of_refusing(engine):
    downgrade = budget(1, "tenant", 1, 0, action="downgrade", route_id=1, route_name="premium", downgrade_route_id=2)
    team = budget(2, "team", 2, 10**6)
    ctx = make_ctx(downgrade, team, max_tokens=50)
    await budget_step.enforce_budgets(ctx, answered)
    assert ctx.route.name == "cheap" and ctx.canonical["max_tokens"] == 6  # the cheap route's cap
    assert (b"x-switchyard-budget", b"downgraded") in ctx.response_headers
    assert status(engine, team) == (4 * 10**5 + 5 * 2 * 10**5, 0, 0)  # priced at the cheap route
    assert status(engine, downgrade) == (0, 0, 0)  # the premium route's budget is not charged


class DownStore:
    errors = (ConnectionError,)

    async def reserve(self, *args):
        raise ConnectionError("refused")


async def test_it_fails_closed_for_block_budgets_and_open_for_alert_budgets(monkeypatch, caplog):
    monkeypatch.setattr(budget_step, "process_engine", lambda: engine)
    engine = BudgetEngine(DownStore())
    hard, soft = budget(1, "tenant", 1, 10**6), budget(2, "team", 2, 0, action="alert")
    with caplog.at_level(logging.ERROR, logger=engine_module.log.name):
        for _ in range(3):
            with pytest.raises(GatewayError) as refused:
                await budget_step.enforce_budgets(make_ctx(hard, soft), answered)
            assert (refused.value.status, refused.value.code) == (503, "budget_unavailable")
        ctx = make_ctx(soft)
        await budget_step.enforce_budgets(ctx, answered)
    assert ctx.usage is not None
    assert [r.message.split(" (")[0] for r in caplog.records] == ["budget counters unreachable"]


async def test_it_reserves_nothing_more_when_the_cheaper_route_has_no_budget(engine):
    downgrade = budget(1, "tenant", 1, 0, action="downgrade", route_id=1, route_name="premium", downgrade_route_id=2)
    ctx = make_ctx(downgrade)
    await budget_step.enforce_budgets(ctx, answered)
    assert ctx.route.name == "cheap" and status(engine, downgrade) == (0, 0, 0)


async def test_it_still_refuses_when_the_downgrade_route_is_gone(engine):
    downgrade = budget(1, "tenant", 1, 0, action="downgrade", downgrade_route_id=404)
    with pytest.raises(GatewayError) as refused:
        await budget_step.enforce_budgets(make_ctx(downgrade), answered)
    assert refused.value.status == 402 and refused.value.message == (
        "tenant 'tenant-1' monthly budget of $0.00 exhausted, and its downgrade route is unavailable.")
