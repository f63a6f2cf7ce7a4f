"""Budget policies end to end: the tightest of key/team/tenant named, downgrade, Redis down, reconcile, embedded."""
import asyncio
from decimal import Decimal

import pytest

from billing.models import BudgetReconciliation, UsageRecord
from billing.tasks import reconcile_budgets
from gateway.dataplane.budgets import money
from gateway.models import Team
from gateway.services.keys import key_create
from tests.integration.dataplane.budget_support import (
    call,
    chat_body,
    drain_until,
    ledger_pico,
    make_budget,
    post_many,
    priced_mock_route,
    status,
)
from tests.integration.dataplane.test_ledger import private_redis  # noqa: F401 - a fixture
from tests.servers import GatewayServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
# $0.001 per output token and free input: with max_tokens 4 a call may cost up to exactly $0.004.
OUT_PER_MTOK = "1000"
ANTHROPIC = "/anthropic/v1/messages"


def error_of(response):
    body = response.json()
    return body["error"]["type"], body["error"].get("code"), body["error"]["message"]


def test_it_refuses_with_the_tightest_of_key_team_and_tenant_named(redis_client, tenant, api_key):
    priced_mock_route("tight", output_per_mtok=OUT_PER_MTOK)
    ml = Team.objects.create(tenant=tenant, name="ml")
    _trainer, trainer = key_create(tenant=tenant, name="trainer", team=ml)
    _sibling, sibling = key_create(tenant=tenant, name="sibling", team=ml)
    make_budget(tenant, "1.00")  # the tenant: room for 250 calls
    make_budget(tenant, "0.010", scope="team", team=ml)  # the team: room for 2, and $0.002 over
    make_budget(tenant, "0.004", scope="key", api_key=_trainer)  # the trainer's key: room for 1
    with GatewayServer() as server:
        assert call(server.url, trainer, chat_body("tight")).status_code == 200
        key_full = call(server.url, trainer, chat_body("tight"))  # key $0 left, team $0.006: the key is tighter
        assert call(server.url, sibling, chat_body("tight")).status_code == 200
        team_full = call(server.url, sibling, chat_body("tight"))  # team $0.002 left, no key budget
        team_full_anthropic = call(server.url, sibling, chat_body("tight"), path=ANTHROPIC)
        tenant_only = call(server.url, api_key.secret, chat_body("tight"))  # outside the team
    assert key_full.status_code == team_full.status_code == team_full_anthropic.status_code == 402
    assert error_of(key_full) == ("billing_error", "budget_exceeded", "key 'trainer' monthly budget of $0.004 "
                                  "exhausted: $0.00 left, this call may cost up to $0.004.")
    team_message = "team 'ml' monthly budget of $0.01 exhausted: $0.002 left, this call may cost up to $0.004."
    assert error_of(team_full) == ("billing_error", "budget_exceeded", team_message)
    assert team_full_anthropic.json() == {"type": "error", "error": {"type": "billing_error", "message": team_message}}
    assert tenant_only.status_code == 200


def test_it_downgrades_a_route_whose_budget_is_spent_to_its_cheaper_route(redis_client, tenant, api_key):
    premium = priced_mock_route("premium", output_per_mtok=OUT_PER_MTOK)
    cheap = priced_mock_route("cheap", output_per_mtok="10")
    budget = make_budget(tenant, "0.008", route=premium, action="downgrade", downgrade_route=cheap)
    with GatewayServer() as server:
        answers = [call(server.url, api_key.secret, chat_body("premium")) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert [a.headers["x-switchyard-route"] for a in answers] == ["premium", "premium", "cheap", "cheap"]
    assert [a.headers.get("x-switchyard-budget") for a in answers] == [None, None, "downgraded", "downgraded"]
    assert drain_until(redis_client, 4)
    assert sorted(UsageRecord.objects.values_list("route", flat=True)) == ["cheap", "cheap", "premium", "premium"]
    assert status(redis_client, budget) == (ledger_pico(budget), 0, 0) == (money.to_pico(Decimal("0.008")), 0, 0)


def test_it_fails_closed_for_block_budgets_and_open_for_alert_budgets_while_redis_is_down(
    redis_client, tenant, api_key, private_redis  # noqa: F811
):
    priced_mock_route("guarded", output_per_mtok=OUT_PER_MTOK)
    make_budget(tenant, "10", scope="key", api_key=api_key)
    soft_key, soft = key_create(tenant=tenant, name="soft")
    make_budget(tenant, "0", scope="key", api_key=soft_key, action="alert")
    with GatewayServer(REDIS_URL=f"redis://127.0.0.1:{private_redis['port']}/0") as server:
        assert call(server.url, api_key.secret, chat_body("guarded")).status_code == 200
        private_redis["proc"].kill()
        private_redis["proc"].wait()
        hard_down = [call(server.url, api_key.secret, chat_body("guarded")) for _ in range(3)]
        soft_down = call(server.url, soft, chat_body("guarded"))
        private_redis["restart"]()
        assert wait_until(lambda: call(server.url, api_key.secret, chat_body("guarded")).status_code == 200)
    assert [r.status_code for r in hard_down] == [503] * 3
    assert error_of(hard_down[0])[1] == "budget_unavailable" and hard_down[0].headers["retry-after"] == "1"
    assert soft_down.status_code == 200
    log = server.output()
    assert log.count("budget counters unreachable") == 1 and "budget counters reachable again" in log


def test_it_reconciles_injected_drift_and_lapsed_reservations_from_the_ledger(redis_client, tenant, api_key):
    priced_mock_route("audited", input_per_mtok="0.37", output_per_mtok=OUT_PER_MTOK)
    budget = make_budget(tenant, "5", scope="key", api_key=api_key)
    with GatewayServer() as server:
        asyncio.run(post_many([server.url], api_key.secret, [chat_body("audited")] * 5))
    assert drain_until(redis_client, 5)
    key = next(k for k in redis_client.scan_iter("sy:bud:*") if not k.endswith(b":res"))
    redis_client.hincrby(key, "u", 12_345)  # the counter claims $0.012345 the ledger never saw
    redis_client.zadd(key + b":res", {"crashed:777": 1})  # a hold whose process died long ago
    redis_client.hincrby(key, "r", 777)
    assert reconcile_budgets() == 1
    assert status(redis_client, budget) == (ledger_pico(budget), 0, 0)
    repair = BudgetReconciliation.objects.get(budget=budget)
    assert (repair.drift_usd, repair.lapsed_reservations) == (Decimal("-0.012345"), 1)
    assert repair.ledger_usd == money.pico_to_usd(ledger_pico(budget))
    redis_client.delete(key)  # Redis lost the counter: it is rebuilt from the whole period's ledger
    assert reconcile_budgets() == 1
    assert status(redis_client, budget) == (ledger_pico(budget), 0, 0)
    assert reconcile_budgets() == 0  # nothing left to repair


def test_it_counts_in_process_in_embedded_mode_and_starts_again_from_the_ledger(tenant, api_key):
    priced_mock_route("local", output_per_mtok=OUT_PER_MTOK)
    make_budget(tenant, "0.012", scope="key", api_key=api_key)  # room for three calls
    with GatewayServer(REDIS_URL="") as server:
        answers = [call(server.url, api_key.secret, chat_body("local")).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 402]
    assert wait_until(lambda: UsageRecord.objects.count() == 4, timeout=10)
    with GatewayServer(REDIS_URL="") as restarted:  # memory is gone; the ledger is not
        again = call(restarted.url, api_key.secret, chat_body("local"))
    assert again.status_code == 402 and "$0.00 left" in error_of(again)[2]
    assert not BudgetReconciliation.objects.exists()  # starting from the ledger is not drift
