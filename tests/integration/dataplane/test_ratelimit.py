"""Rate limits through real server processes and Redis (issue 4; RELIABILITY.md B4)."""
import asyncio
import subprocess

import httpx
import pytest
import redis
from django.urls import reverse

from gateway.dataplane.limits.redis_backend import PREFIX
from gateway.dataplane.snapshot_builder import build_snapshot
from gateway.models import Membership, RouteTarget, Team, Tenant
from gateway.services.config_apply import config_apply
from gateway.services.config_export import config_dump, config_export
from gateway.services.keys import key_create
from tests.conftest import client_for, make_member
from tests.integration.dataplane.conftest import add_route
from tests.servers import GatewayServer, free_port, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
HELLO = [{"role": "user", "content": "hello world"}]  # mock: 2 prompt tokens, "mock reply to: hello world" 5 more


def set_limits(obj, **limits):
    obj.limits = limits
    obj.save()


def body(model="mock", **extra):
    return {"model": model, "messages": HELLO, **extra}


async def burst(urls, secret, n, model="mock", **extra):
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers={"Authorization": f"Bearer {secret}"}) as client:
        return await asyncio.gather(*(
            client.post(urls[i % len(urls)] + "/v1/chat/completions", json=body(model, **extra)) for i in range(n)
        ))


def chat(server, secret, model="mock", **extra):
    return httpx.post(server.url + "/v1/chat/completions", json=body(model, **extra), timeout=30,
                      headers={"Authorization": f"Bearer {secret}"})


def counted(client, ident, metric="r"):
    return client.zcard(f"{PREFIX}{ident}:{metric}")


@pytest.fixture
def mock_route(tenant):
    return add_route("mock", "mock", "", "mock-1")


def mock_route_with(name, **options):
    """A mock route whose provider has these options (latency_ms, error, ...)."""
    route = add_route(name, "mock", "", "mock-1")
    provider = route.targets.get().provider
    provider.options = options
    provider.save()
    return route


def test_it_admits_99_to_100_of_500_concurrent_requests_across_two_processes(redis_client, mock_route, api_key):
    set_limits(api_key, rpm=100)
    with GatewayServer() as one, GatewayServer() as two:
        responses = asyncio.run(burst([one.url, two.url], api_key.secret, 500))
    statuses = [r.status_code for r in responses]
    assert 99 <= statuses.count(200) <= 100 and statuses.count(429) == 500 - statuses.count(200), set(statuses)
    for refused in (r for r in responses if r.status_code == 429):
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-switchyard-limit-scope"] == "key"
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        assert refused.json()["error"] == {"message": "key 'app' requests per minute limit of 100 reached",
                                           "type": "rate_limit_error", "param": None, "code": "rate_limited"}
    assert counted(redis_client, f"k{api_key.pk}") == statuses.count(200)


def test_it_takes_nothing_from_the_key_when_the_tenant_refuses(redis_client, mock_route, api_key, tenant):
    set_limits(api_key, rpm=10)
    set_limits(tenant, rpm=3)
    with GatewayServer() as server:
        responses = [chat(server, api_key.secret) for _ in range(6)]
    assert [r.status_code for r in responses] == [200] * 3 + [429] * 3
    assert responses[0].headers["x-ratelimit-limit-requests"] == "3"  # the tightest scope is reported
    assert responses[-1].headers["x-switchyard-limit-scope"] == "tenant"
    assert responses[-1].json()["error"]["message"] == "tenant 'acme' requests per minute limit of 3 reached"
    assert counted(redis_client, f"k{api_key.pk}") == counted(redis_client, f"t{tenant.pk}") == 3


def test_it_enforces_tokens_per_minute_at_the_reconciled_total(redis_client, mock_route, api_key):
    # Each call uses 7 tokens. max_tokens=2 makes the estimate 7 too (5 counted + 2): exactly 10 calls fit 70.
    set_limits(api_key, tpm=70)
    with GatewayServer() as server:
        responses = [chat(server, api_key.secret, max_tokens=2, stream=i % 2 == 1) for i in range(11)]
    assert [r.status_code for r in responses] == [200] * 10 + [429]
    assert responses[-1].json()["error"]["message"] == "key 'app' tokens per minute limit of 70 reached"
    assert int(redis_client.get(f"{PREFIX}k{api_key.pk}:n")) == 70


def test_it_refunds_the_unused_estimate_so_later_calls_fit(redis_client, mock_route, api_key):
    # Estimate 5 + 50 = 55, use 7: without the refund one call would fit in 70 tokens; with it, three.
    set_limits(api_key, tpm=70)
    with GatewayServer() as server:
        responses = [chat(server, api_key.secret, max_tokens=50) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining-tokens"] for r in responses] == ["15", "8", "1", "49"]
    assert int(redis_client.get(f"{PREFIX}k{api_key.pk}:n")) == 21


def test_it_caps_concurrent_requests_across_two_processes(redis_client, tenant, api_key):
    mock_route_with("slow", latency_ms=3000)  # every request of the burst arrives while the first 3 run
    set_limits(api_key, max_parallel=3)
    with GatewayServer() as one, GatewayServer() as two:
        responses = asyncio.run(burst([one.url, two.url], api_key.secret, 10, model="slow"))
        statuses = [r.status_code for r in responses]
        assert (statuses.count(200), statuses.count(429)) == (3, 7)
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.json()["error"]["message"] == "key 'app' concurrent requests limit of 3 reached"
        assert refused.headers["retry-after"] == "1"
        assert counted(redis_client, f"k{api_key.pk}", "p") == 0  # every slot given back
        again = asyncio.run(burst([one.url, two.url], api_key.secret, 3, model="slow"))
    assert [r.status_code for r in again] == [200] * 3


def test_it_frees_the_slot_when_the_client_leaves_or_the_upstream_fails(redis_client, mock_route, api_key):
    mock_route_with("slow", latency_ms=5000)
    mock_route_with("failing", error=500)
    set_limits(api_key, max_parallel=1)
    with GatewayServer() as server:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(server.url + "/v1/chat/completions", json=body("slow"), timeout=0.5,
                       headers={"Authorization": f"Bearer {api_key.secret}"})
        assert wait_until(lambda: counted(redis_client, f"k{api_key.pk}", "p") == 0, timeout=3)
        assert chat(server, api_key.secret, "failing").status_code == 502
        assert counted(redis_client, f"k{api_key.pk}", "p") == 0
        # The slot is free before the answer ends: back-to-back calls under max_parallel 1 all pass.
        assert [chat(server, api_key.secret, stream=i % 2 == 1).status_code for i in range(6)] == [200] * 6


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of our own to kill and restart."""
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", ""]
    server = {"proc": subprocess.Popen(args, stdout=subprocess.DEVNULL), "url": f"redis://127.0.0.1:{port}/0"}
    client = redis.Redis(port=port)
    assert wait_until(lambda: _pings(client), timeout=10)

    def restart():
        server["proc"] = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        assert wait_until(lambda: _pings(client), timeout=10)

    server["restart"] = restart
    yield server
    server["proc"].kill()
    server["proc"].wait()


def _pings(client):
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def test_it_fails_closed_when_redis_dies_unless_the_limit_fails_open(redis_client, mock_route, api_key, tenant,
                                                                      private_redis):
    set_limits(api_key, rpm=100)
    lenient, lenient_secret = key_create(tenant=tenant, name="lenient", limits={"rpm": 100, "fail_open": True})
    with GatewayServer(REDIS_URL=private_redis["url"]) as server:
        assert chat(server, api_key.secret).status_code == chat(server, lenient_secret).status_code == 200
        private_redis["proc"].kill()
        private_redis["proc"].wait()
        closed = [chat(server, api_key.secret) for _ in range(3)]
        opened = chat(server, lenient_secret)
        assert {r.status_code for r in closed} == {503}
        assert closed[0].json()["error"]["code"] == "rate_limit_unavailable" and closed[0].headers["retry-after"]
        assert opened.status_code == 200 and "x-ratelimit-remaining-requests" not in opened.headers
        private_redis["restart"]()
        assert chat(server, api_key.secret).status_code == 200
        log = server.output()
    assert log.count("rate limits unavailable (ConnectionError)") == 1  # once per outage, the type only
    assert "rate limits available again" in log


LIMITS_FILE = """
providers:
  - {name: mock-main, kind: mock}
routes:
  - name: mock
    targets:
      - {provider: mock-main, model: mock-1, limits: {rpm: 30, max_parallel: 4}}
    limits: {tpm: 9000}
tenants:
  - slug: acme
    name: Acme
    limits: {rpm: 600, tpm: 100000, fail_open: true}
    teams:
      - {name: research, limits: {max_parallel: 8}}
      - {name: ops}
    users:
      - {email: dev@acme.test, role: developer, team: research, limits: {rpm: 60}}
    keys:
      - {name: ci, owner: dev@acme.test, limits: {rpm: 10}}
"""


def test_it_applies_and_exports_limits_on_every_scope_as_a_fixed_point(tmp_path, redis_client):
    path = tmp_path / "limits.yaml"
    path.write_text(LIMITS_FILE)
    config_apply(path)
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.limits == {"rpm": 600, "tpm": 100000, "fail_open": True}
    assert Team.objects.get(name="research").limits == {"max_parallel": 8}
    assert Membership.objects.get(user__email="dev@acme.test").limits == {"rpm": 60}
    assert RouteTarget.objects.get().limits == {"rpm": 30, "max_parallel": 4}
    first = config_dump(config_export())
    export = tmp_path / "export.yaml"
    export.write_text(first)
    assert config_apply(export).changes == []
    assert config_dump(config_export()) == first
    snapshot = build_snapshot(1)
    member = snapshot.member_limits[(tenant.pk, Membership.objects.get().user_id)]
    assert (member.label, dict(member.limits), member.team_id) == ("dev@acme.test", {"rpm": 60},
                                                                  Team.objects.get(name="research").pk)
    assert dict(snapshot.tenant_limits[tenant.pk].limits)["fail_open"] is True
    assert dict(snapshot.routes_by_name[(None, "mock")].targets[0].limits) == {"rpm": 30, "max_parallel": 4}


def test_it_rejects_unknown_or_invalid_limit_fields_in_the_api(tenant, redis_client):
    admin = make_member(tenant, "admin@acme.test", "admin")
    client = client_for(admin)
    team = client.post(reverse("team-list"), {"tenant": tenant.pk, "name": "t", "limits": {"rpx": 5}}, format="json")
    assert team.status_code == 400 and "rpx" in str(team.json())
    bad = client.patch(reverse("tenant-detail", args=[tenant.pk]), {"limits": {"rpm": -1}}, format="json")
    assert bad.status_code == 400
    ok = client.patch(reverse("tenant-detail", args=[tenant.pk]), {"limits": {"rpm": 5, "fail_open": True}},
                      format="json")
    assert ok.status_code == 200 and ok.json()["limits"] == {"rpm": 5, "fail_open": True}
    member = client.post(reverse("membership-list"), {"tenant": tenant.pk, "email": "x@acme.test",
                                                      "limits": {"tpm": 1000}}, format="json")
    assert member.status_code == 201 and member.json()["limits"] == {"tpm": 1000}
    route = mock_route_payload(tenant, {"burst": 2})
    assert client.post(reverse("route-list"), route, format="json").status_code == 400
    created = client.post(reverse("route-list"), mock_route_payload(tenant, {"rpm": 2}), format="json")
    assert created.status_code == 201 and created.json()["targets"][0]["limits"] == {"rpm": 2}


def mock_route_payload(tenant, target_limits):
    from tests.factories import make_provider

    provider = make_provider(tenant, f"p{free_port()}")
    return {"tenant": tenant.pk, "name": f"r{provider.pk}",
            "targets": [{"provider": provider.pk, "model": "mock-1", "limits": target_limits}]}
