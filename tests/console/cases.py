"""Every console URL name, with how its isolation and role cases are built (RELIABILITY.md B2).

A URL added to gateway/console/urls.py without an entry here fails tests/console/test_isolation.py.
"""
from collections.abc import Callable
from dataclasses import dataclass

from tests.console.ledger import make_usage
from tests.factories import (
    make_budget,
    make_key,
    make_membership,
    make_price_override,
    make_provider,
    make_route,
    make_team,
)


@dataclass(frozen=True)
class Case:
    factory: Callable | None = None  # builds tenant A's object for a <pk> URL
    writes: bool = False  # POST changes data: viewers get 403
    public: bool = False  # reachable signed out (sign-in, sign-out)
    viewer_ok: bool = False  # an unsafe method a viewer may use (switching tenant writes only the session)


def _shared_proof_route(tenant):
    return make_route(tenant, "iso-route")


CASES = {
    "login": Case(public=True),
    "logout": Case(public=True),
    "home": Case(),
    "tenant_switch": Case(factory=lambda tenant: tenant, viewer_ok=True),
    "tenant": Case(writes=True),
    "teams": Case(),
    "team_create": Case(writes=True),
    "team_edit": Case(factory=make_team, writes=True),
    "team_delete": Case(factory=make_team, writes=True),
    "members": Case(),
    "member_create": Case(writes=True),
    "member_edit": Case(factory=make_membership, writes=True),
    "member_delete": Case(factory=make_membership, writes=True),
    "providers": Case(),
    "provider_create": Case(writes=True),
    "provider_edit": Case(factory=make_provider, writes=True),
    "provider_delete": Case(factory=make_provider, writes=True),
    "provider_test": Case(factory=make_provider, writes=True),
    "routes": Case(),
    "route_create": Case(writes=True),
    "route_target_row": Case(),
    "route_detail": Case(factory=_shared_proof_route),
    "route_edit": Case(factory=_shared_proof_route, writes=True),
    "route_delete": Case(factory=_shared_proof_route, writes=True),
    "keys": Case(),
    "key_create": Case(writes=True),
    "key_rotate": Case(factory=make_key, writes=True),
    "key_revoke": Case(factory=make_key, writes=True),
    "budgets": Case(),
    "budget_create": Case(writes=True),
    "budget_edit": Case(factory=make_budget, writes=True),
    "budget_delete": Case(factory=make_budget, writes=True),
    "prices": Case(),
    "price_create": Case(writes=True),
    "price_edit": Case(factory=make_price_override, writes=True),
    "price_delete": Case(factory=make_price_override, writes=True),
    "audit": Case(),
    "dashboard": Case(),
    "logs": Case(),
    "log_detail": Case(factory=make_usage),
    "costs": Case(),
}
