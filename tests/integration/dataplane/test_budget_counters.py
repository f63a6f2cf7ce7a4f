"""The Redis Lua scripts and the in-process counters behave the same (one scenario, both backends)."""
import time

import pytest
import redis
from django.conf import settings

from gateway.dataplane.budgets.local import LocalCounters
from gateway.dataplane.budgets.plan import COUNT, DOWNGRADE_MODE, REFUSE, Counter
from gateway.dataplane.budgets.store import (
    ADMITTED,
    CHARGE,
    DOWNGRADED,
    REFUSED,
    RELEASE,
    RedisCounters,
    SyncRedisCounters,
)
from gateway.dataplane.redis_wire import WireRedis

EXPIRE = int(time.time()) + 3600


class Both:
    """The hot path's operations (async) and the reconcile job's (sync) on one backend."""

    def __init__(self, hot, job):
        self.hot, self.job = hot, job

    async def reserve(self, counters, member, cost, ttl=60):
        return await self.hot.reserve(counters, member, ttl, cost)

    async def settle(self, counters, member, reserved, pico, minute, flags=RELEASE | CHARGE):
        await self.hot.settle([(c, flags) for c in counters], member, reserved, pico, minute)


@pytest.fixture(params=["redis", "local"])
async def store(request, redis_client):
    if request.param == "local":
        local = LocalCounters()
        yield Both(local, local)
        return
    client = WireRedis(settings.REDIS_URL)  # the data plane's client, as process_engine() uses it
    yield Both(RedisCounters(client), SyncRedisCounters(redis.Redis.from_url(settings.REDIS_URL)))
    await client.aclose()


def c(name, amount, mode=REFUSE):
    return Counter(f"sy:bud:{{t1}}:{name}:m202501", amount, mode, EXPIRE)


async def test_it_admits_up_to_the_amount_exactly_then_blames_the_budget_with_least_left(store):
    tenant, team, alert = c("tenant", 100), c("team", 50), c("alert", 10, COUNT)
    assert (await store.reserve([tenant, team, alert], "a:25", 25)).outcome == ADMITTED
    assert (await store.reserve([tenant, team, alert], "b:25", 25)).outcome == ADMITTED  # spent + held == 50
    refused = await store.reserve([tenant, team, alert], "c:25", 25)
    assert (refused.outcome, refused.index, refused.left_micro) == (REFUSED, 1, 0)
    assert [store.job.status(x) for x in (tenant, team, alert)] == [(0, 50, 2), (0, 50, 2), (0, 50, 2)]


async def test_it_blames_a_refusing_budget_before_a_downgrading_one(store):
    hard, soft = c("hard", 30), c("soft", 20, DOWNGRADE_MODE)
    refused = await store.reserve([soft, hard], "a:40", 40)
    assert (refused.outcome, refused.index, refused.left_micro) == (REFUSED, 1, 30)
    downgrade = await store.reserve([soft, hard], "b:25", 25)
    assert (downgrade.outcome, downgrade.index, downgrade.left_micro) == (DOWNGRADED, 0, 20)


async def test_it_counts_pico_dollar_rests_exactly_and_releases_every_hold(store):
    budget = c("exact", 10**9)
    costs = [4_938_271_564, 999_999, 1, 123_456_789_012, 7]  # pico-dollars, rests of every size
    for i, pico in enumerate(costs):
        member = f"m{i}:{pico // 10**6 + 1}"
        assert (await store.reserve([budget], member, pico // 10**6 + 1)).outcome == ADMITTED
        await store.settle([budget], member, pico // 10**6 + 1, pico, minute=100)
    assert store.job.status(budget) == (sum(costs), 0, 0)


async def test_it_releases_a_lapsed_reservation_and_still_charges_its_late_settle(store):
    budget = c("lapse", 100)
    await store.reserve([budget], "dead:80", 80, ttl=0)  # lapses at once: its process "crashed"
    assert (await store.reserve([budget], "live:90", 90)).outcome == ADMITTED
    await store.settle([budget], "dead:80", 80, 5 * 10**6, minute=100)  # it was only slow: charged, not released twice
    assert store.job.status(budget) == (5 * 10**6, 90, 1)


async def test_it_reconciles_only_the_spend_that_arrived_before_the_cut(store):
    budget = c("recon", 10**6)
    await store.settle([budget], "x:0", 0, 1_000_000_500, minute=100, flags=CHARGE)  # old: the ledger has it
    await store.settle([budget], "y:0", 0, 300, minute=103, flags=CHARGE)  # recent: still on its way
    fixed = store.job.reconcile(budget, 102, 1_000_000_200, {103: 300})  # the ledger says 300 pico less before the cut
    assert (fixed.drift_pico, fixed.lapsed, fixed.reserved_micro, fixed.open, fixed.fresh) == (-300, 0, 0, 0, False)
    assert store.job.status(budget).spent_pico == 1_000_000_200 + 300
    again = store.job.reconcile(budget, 104, 1_000_000_500, {})  # both in the ledger now, bucket pruned
    assert again.drift_pico == 0 and store.job.status(budget).spent_pico == 1_000_000_500


async def test_it_gives_a_counter_it_never_saw_the_whole_periods_ledger_and_its_recent_minutes(store):
    budget = c("fresh", 10**6)
    fixed = store.job.reconcile(budget, 102, 2_000_000_001, {102: 5, 103: 1_000_000})
    assert fixed.fresh and fixed.drift_pico == 2_001_000_006 and store.job.status(budget).spent_pico == 2_001_000_006
    # The next run compares those minutes with the ledger once they pass the cut: no false drift.
    assert store.job.reconcile(budget, 104, 2_001_000_006, {}).drift_pico == 0
    assert store.job.status(budget).spent_pico == 2_001_000_006


async def test_it_recomputes_the_reserved_total_from_the_open_holds(store):
    budget = c("held", 10**6)
    await store.reserve([budget], "open:40", 40)
    await store.reserve([budget], "gone:60", 60, ttl=0)
    fixed = store.job.reconcile(budget, 0, 0, {})
    assert (fixed.lapsed, fixed.reserved_micro, fixed.open) == (1, 40, 1)
