"""Shared helpers of the rate-limit unit tests: rules, limiters on both backends, a fake context."""
from __future__ import annotations

import time
import uuid
from types import MappingProxyType

import pytest
from django.conf import settings

from gateway.dataplane.canonical import Target
from gateway.dataplane.context import RequestContext
from gateway.dataplane.limits.rules import Rule
from gateway.dataplane.snapshot import EMPTY, KeyInfo, LimitOwner, ProviderInfo, RouteInfo, TargetInfo


def rule(scope="key", label="key 'ci'", rpm=None, tpm=None, max_parallel=None, fail_open=False, ident=None) -> Rule:
    # A fresh ident per rule: tests share one Redis database without flushing it.
    return Rule(scope, ident or f"test-{uuid.uuid4().hex}", label, rpm, tpm, max_parallel, fail_open)


class Clock:
    """A hand-moved clock for the in-process limiter (seconds, like time.monotonic)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def redis_url():
    """The test Redis, or skip: unit tests also run in embedded mode."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL")
    return settings.REDIS_URL


def frozen(mapping=None):
    return MappingProxyType(dict(mapping or {}))


def make_target(limits=None, model="mock-1"):
    provider = ProviderInfo(id=7, name="mock-p", kind="mock", base_url="", api_key="", headers=frozen(),
                            options=frozen(), connect_timeout=None, first_byte_timeout=None, idle_timeout=None)
    return TargetInfo(provider=provider, model=model, weight=1, wire=Target("mock", model=model),
                      limits=frozen(limits))


def make_ctx(key_limits=None, route_limits=None, snapshot=None, user_id=3, team_id=None, canonical=None, target=None):
    key = KeyInfo(id=uuid.uuid4().int % 10**9, prefix="p", secret_hash="h", tenant_id=1, team_id=team_id,
                  user_id=user_id, name="ci", route_ids=None, limits=frozen(key_limits), expires_at=None)
    route = RouteInfo(id=uuid.uuid4().int % 10**9, tenant_id=None, name="mock", strategy="weighted",
                      targets=(target or make_target(),), fallback_ids=(), timeouts=frozen(), cache=frozen(),
                      limits=frozen(route_limits), max_tokens_cap=None, created=0)
    ctx = RequestContext(scope={}, send=None, request_id="r1", ingress="openai", endpoint="chat", method="POST",
                         headers={}, raw_body=b"", snapshot=snapshot or EMPTY, started_wall=time.time(),
                         started=time.perf_counter())
    ctx.key, ctx.route = key, route
    ctx.canonical = canonical or {"model": "mock", "messages": [{"role": "user", "content": "hello world"}],
                                  "max_tokens": 10}
    return ctx


def snapshot_with(tenant=None, team=None, member=None, member_team=None):
    """EMPTY plus limits on tenant 1, team 5 and the member (tenant 1, user 3)."""
    owners = {}
    if tenant is not None:
        owners["tenant_limits"] = frozen({1: LimitOwner("acme", frozen(tenant))})
    if team is not None:
        owners["team_limits"] = frozen({5: LimitOwner("research", frozen(team))})
    if member is not None or member_team is not None:
        owners["member_limits"] = frozen({(1, 3): LimitOwner("dev@acme.test", frozen(member), member_team)})
    return EMPTY.__class__(**{f: getattr(EMPTY, f) for f in EMPTY.__dataclass_fields__} | owners)


def header(pairs, name):
    """The last value of header `name` in raw ASGI (bytes, bytes) pairs, or None."""
    values = [v.decode() for k, v in pairs if k.decode() == name]
    return values[-1] if values else None
