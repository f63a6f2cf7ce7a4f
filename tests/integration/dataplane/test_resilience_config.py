"""Route `strategy`, `retry`, `breaker`, `canary` through config files and the API, into the snapshot."""
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from gateway.dataplane.resilience.policy import BreakerSettings
from gateway.dataplane.snapshot_builder import build_snapshot
from gateway.models import Route
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

CONFIG = """
providers:
  - {name: main, kind: mock}
  - {name: spare, kind: mock}
routes:
  - name: chat
    targets:
      - {provider: main, model: mock-a, weight: 9}
      - {provider: spare, model: mock-b, weight: 1}
    strategy: lowest_latency
    timeouts: {connect: 2, first_byte: 20, idle: 10, total: 90}
    retry: {max_retries: 3, backoff_ms: 50, max_backoff_ms: 1000, retry_on: [connection, timeout],
            fallback_on: []}
    breaker: {failures: 3, error_rate: 0.25, min_requests: 40, window_s: 10, cooldown_s: 5, max_cooldown_s: 60}
    canary: {sticky: user}
"""


def run(command, *args):
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_it_round_trips_resilience_settings_through_export(tmp_path):
    path = tmp_path / "in.yaml"
    path.write_text(CONFIG)
    run("apply_config", str(path))
    first = run("export_config")
    assert "fallback_on: []" in first and "sticky: user" in first and "strategy: lowest_latency" in first
    again = tmp_path / "again.yaml"
    again.write_text(first)
    assert run("apply_config", str(again)).strip().endswith("no changes")
    assert run("export_config") == first


def test_it_builds_the_route_policy_into_the_snapshot(tmp_path):
    path = tmp_path / "in.yaml"
    path.write_text(CONFIG)
    run("apply_config", str(path))
    route = next(r for r in build_snapshot(1).routes_by_id.values() if r.name == "chat")
    policy = route.policy
    assert (policy.strategy, policy.max_retries, policy.backoff_s, policy.max_backoff_s) == (
        "lowest_latency", 3, 0.05, 1.0)
    assert policy.retry_on == {"connection", "timeout"} and policy.fallback_on == frozenset()
    assert policy.breaker == BreakerSettings(failures=3, error_rate=0.25, min_requests=40, window_s=10,
                                             cooldown_s=5, max_cooldown_s=60)
    assert (policy.sticky, policy.total_s, policy.cumulative) == ("user", 90, (9, 10))
    assert [t.position for t in route.targets] == [0, 1] and all(t.id for t in route.targets)


@pytest.mark.parametrize("field, value", [
    ("retry", {"max_retries": 99}),
    ("retry", {"retry_on": ["everything"]}),
    ("breaker", {"error_rate": 2}),
    ("canary", {"sticky": "ip"}),
])
def test_it_refuses_bad_settings_through_the_api(tenant_a, admin_a, field, value):
    response = client_for(admin_a).post(reverse("route-list"), {"tenant": tenant_a.pk, "name": "r", field: value},
                                        format="json")
    assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_it_saves_settings_through_the_api(tenant_a, admin_a):
    body = {"tenant": tenant_a.pk, "name": "r", "retry": {"max_retries": 1}, "breaker": {"enabled": False},
            "canary": {"sticky": "key"}}
    response = client_for(admin_a).post(reverse("route-list"), body, format="json")
    assert response.status_code == 201, response.content
    route = Route.objects.get(pk=response.json()["id"])
    assert (route.retry, route.breaker, route.canary) == ({"max_retries": 1}, {"enabled": False}, {"sticky": "key"})
