"""The data plane's immutable view of the configuration.

Built off the request path (snapshot_builder.py, the only data-plane module
that touches the ORM) and swapped atomically; requests read it without locks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from gateway.dataplane.canonical import Target

NO_LIMITS = MappingProxyType({})


def _no_limits() -> MappingProxyType:
    return NO_LIMITS  # a factory: dataclasses refuse an unhashable default


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: int
    name: str
    kind: str
    base_url: str
    api_key: str = field(repr=False)  # never printed, never logged
    headers: MappingProxyType
    options: MappingProxyType
    connect_timeout: float | None
    first_byte_timeout: float | None
    idle_timeout: float | None


@dataclass(frozen=True, slots=True)
class TargetInfo:
    provider: ProviderInfo
    model: str
    weight: int
    wire: Target  # what the adapter needs, built once per snapshot rather than per request
    # {"rpm", "tpm", "max_parallel", "fail_open"}: stay inside this deployment's own provider quota
    limits: MappingProxyType = field(default_factory=_no_limits)
    id: int = 0  # RouteTarget pk: the key of its breaker, cooldown and load signals
    position: int = 0  # its place in the route's configured order


@dataclass(frozen=True, slots=True)
class RouteInfo:
    id: int
    tenant_id: int | None
    name: str
    strategy: str
    targets: tuple[TargetInfo, ...]
    fallback_ids: tuple[int, ...]
    timeouts: MappingProxyType
    cache: MappingProxyType
    limits: MappingProxyType
    max_tokens_cap: int | None
    created: int  # epoch seconds, for /v1/models
    retry: MappingProxyType = field(default_factory=_no_limits)  # {"max_retries", "backoff_ms", ...}
    breaker: MappingProxyType = field(default_factory=_no_limits)  # {"failures", "error_rate", ...}
    canary: MappingProxyType = field(default_factory=_no_limits)  # {"sticky": "key" | "user"}
    policy: Any = None  # resilience.policy.RoutePolicy, parsed from the above once per snapshot


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    prefix: str
    secret_hash: str = field(repr=False)
    tenant_id: int
    team_id: int | None
    user_id: int | None
    name: str
    route_ids: frozenset[int] | None  # None: every route the tenant can use
    limits: MappingProxyType
    expires_at: float | None  # epoch seconds


@dataclass(frozen=True, slots=True)
class LimitOwner:
    """A tenant, team or member whose `limits` all its keys' requests share."""

    label: str  # how a 429 names it: tenant slug, team name, member e-mail
    limits: MappingProxyType
    team_id: int | None = None  # members only: their team, whose limits their keys share


@dataclass(frozen=True, slots=True)
class Price:
    """USD per token for one (provider, upstream model)."""

    input: Decimal
    output: Decimal
    cached_input: Decimal
    source: str  # "genai-prices:<version>", "override:provider:<id>" or "override:<id>@<valid_from>/r<revision>"
    cache_write: Decimal | None = None  # None: cache writes cost the input price


@dataclass(frozen=True, slots=True)
class Snapshot:
    version: int
    built_at: float
    keys_by_prefix: MappingProxyType  # prefix -> tuple[KeyInfo, ...]
    routes_by_id: MappingProxyType  # id -> RouteInfo
    routes_by_name: MappingProxyType  # (tenant_id | None, name) -> RouteInfo
    prices: MappingProxyType  # (provider id, upstream model) -> Price | None
    tenant_limits: MappingProxyType = field(default_factory=_no_limits)  # tenant id -> LimitOwner
    team_limits: MappingProxyType = field(default_factory=_no_limits)  # team id -> LimitOwner
    member_limits: MappingProxyType = field(default_factory=_no_limits)  # (tenant id, user id) -> LimitOwner
    # (scope, subject id) or ("user", tenant id, user id) -> tuple[budgets.plan.BudgetInfo, ...]
    budgets: MappingProxyType = field(default_factory=_no_limits)

    def route_for(self, tenant_id, name):
        """The tenant's own route of this name, else the shared one."""
        return self.routes_by_name.get((tenant_id, name)) or self.routes_by_name.get((None, name))

    def routes_for_key(self, key):
        """Routes a key may call, by public name (a tenant route shadows a shared one)."""
        visible = {}
        for (tenant_id, name), route in self.routes_by_name.items():
            if tenant_id is None and name not in visible:
                visible[name] = route
        for (tenant_id, name), route in self.routes_by_name.items():
            if tenant_id == key.tenant_id:
                visible[name] = route
        if key.route_ids is not None:
            visible = {n: r for n, r in visible.items() if r.id in key.route_ids}
        return visible


EMPTY = Snapshot(
    version=-1,
    built_at=0.0,
    keys_by_prefix=MappingProxyType({}),
    routes_by_id=MappingProxyType({}),
    routes_by_name=MappingProxyType({}),
    prices=MappingProxyType({}),
)
