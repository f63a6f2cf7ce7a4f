"""GET /api/v1/route-variants/: per-variant figures of a canary or A-B split, tenant-scoped (issue 4, item 7)."""
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import UsageRecord
from gateway.models import Role
from tests.conftest import client_for, make_member
from tests.integration.dataplane.resilience_helpers import chat, ledger_rows, multi_route, provider
from tests.servers import GatewayServer

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime.now(UTC)


def usage(route, target, tenant_id, status=200, latency=100.0, cost="0.01", at=NOW):
    return UsageRecord.objects.create(
        event_id=uuid.uuid4(), request_id=uuid.uuid4().hex, created_at=at, tenant_id=tenant_id, route_id=route.pk,
        route=route.name, provider_id=target.provider_id, provider=target.provider.name, model=target.model,
        ingress="openai", endpoint="chat", status=status, latency_ms=latency, ttfb_ms=latency / 2,
        input_tokens=10, output_tokens=5, cost_usd=Decimal(cost),
    )


@pytest.fixture
def ab_route(tenant_a):
    a, b = provider("arm-a", "mock", ""), provider("arm-b", "mock", "")
    route = multi_route("ab", [(a, "mock-a", 9), (b, "mock-b", 1)], canary={"sticky": "user"}, tenant=tenant_a)
    return route, list(route.targets.order_by("position"))


def variants(user, route_id, **params):
    response = client_for(user).get(reverse("route-variants-detail", args=[route_id]), params)
    assert response.status_code == 200, response.content
    return {v["provider"]: v for v in response.json()["variants"]}


def test_it_reports_requests_errors_latency_and_cost_per_variant(ab_route, tenant_a, admin_a):
    route, (a, b) = ab_route
    for latency in (100, 200, 300, 400):
        usage(route, a, tenant_a.pk, latency=latency)
    usage(route, b, tenant_a.pk, status=502, latency=50, cost="0")
    usage(route, b, tenant_a.pk, status=499, latency=10, cost="0.002")  # the client left: not an error
    usage(route, a, tenant_a.pk, at=NOW - timedelta(days=3))  # outside the default window
    found = variants(admin_a, route.pk)
    assert (found["arm-a"]["requests"], found["arm-a"]["errors"], found["arm-a"]["weight"]) == (4, 0, 9)
    assert found["arm-a"]["latency_avg_ms"] == 250 and found["arm-a"]["latency_p50_ms"] == 250
    assert found["arm-a"]["latency_p95_ms"] == pytest.approx(385)
    assert Decimal(found["arm-a"]["cost_usd"]) == Decimal("0.04")
    assert (found["arm-b"]["requests"], found["arm-b"]["errors"], found["arm-b"]["error_rate"]) == (2, 1, 0.5)
    assert variants(admin_a, route.pk, since=(NOW - timedelta(days=4)).isoformat())["arm-a"]["requests"] == 5


def test_it_lists_idle_variants_and_former_ones(ab_route, tenant_a, admin_a):
    route, (a, b) = ab_route
    usage(route, a, tenant_a.pk)
    b.delete()
    usage(route, b, tenant_a.pk)  # a ledger row of a target removed since
    found = variants(admin_a, route.pk)
    assert found["arm-b"]["weight"] is None and found["arm-b"]["requests"] == 1
    listing = client_for(admin_a).get(reverse("route-variants-list")).json()["results"]
    assert [r["name"] for r in listing] == ["ab"]


def test_it_shows_a_shared_route_only_with_the_callers_own_traffic(tenant_a, tenant_b, admin_a, admin_b):
    shared = multi_route("shared", [(provider("common", "mock", ""), "mock-1", 1)])
    target = shared.targets.get()
    usage(shared, target, tenant_a.pk)
    for _ in range(3):
        usage(shared, target, tenant_b.pk)
    assert variants(admin_a, shared.pk)["common"]["requests"] == 1
    assert variants(admin_b, shared.pk)["common"]["requests"] == 3


def test_it_hides_another_tenants_route_and_refuses_writes(ab_route, tenant_b, admin_b, member_ro):
    route, _ = ab_route
    url = reverse("route-variants-detail", args=[route.pk])
    assert client_for(admin_b).get(url).status_code == 404
    assert client_for(member_ro).get(url).status_code == 200  # any member of the tenant may read
    assert client_for(member_ro).post(reverse("route-variants-list"), {}).status_code == 405


def test_it_refuses_a_malformed_window(ab_route, admin_a):
    route, _ = ab_route
    response = client_for(admin_a).get(reverse("route-variants-detail", args=[route.pk]), {"since": "last tuesday"})
    assert response.status_code == 400 and "since" in response.json()["error"]["fields"]


@pytest.mark.slow
def test_it_counts_the_canary_traffic_sent_through_the_gateway(redis_client, tenant, api_key):
    arm_a, arm_b = provider("gw-a", "mock", ""), provider("gw-b", "mock", "")
    route = multi_route("split", [(arm_a, "mock-a", 1), (arm_b, "mock-b", 1)], canary={"sticky": "key"})
    admin = make_member(tenant, "owner@acme.test", Role.OWNER)
    with GatewayServer() as server:
        served = [chat(server, api_key, "split").headers["x-switchyard-provider"] for _ in range(6)]
    ledger_rows(redis_client, 6)
    found = variants(admin, route.pk)
    assert len(set(served)) == 1  # one key, one variant
    assert found[served[0]]["requests"] == 6 and sum(v["requests"] for v in found.values()) == 6
