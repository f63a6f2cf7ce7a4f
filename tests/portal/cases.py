"""Every portal URL name, with how its isolation and role cases are built.

A URL added to portal/urls.py without an entry here fails tests/portal/test_isolation.py.
"""
from collections.abc import Callable
from dataclasses import dataclass

from portal.services import invitation_create
from tests.factories import make_key


@dataclass(frozen=True)
class Case:
    factory: Callable | None = None  # factory(tenant, owner) builds tenant A's object for a <pk> URL
    owned: bool = False  # the object belongs to one user: other users of the same tenant get 404 too
    writes: bool = False  # POST changes data: viewers get 403
    public: bool = False  # reachable signed out
    token: bool = False  # the URL takes an invitation token instead of a pk
    admin: bool = False  # for tenant admins only: developers get 403


def _invitation(tenant, owner):
    return invitation_create(tenant=tenant, email=f"invitee@{tenant.slug}.test")[0]


def _key(tenant, owner):
    return make_key(tenant, name="iso-key", owner=owner)


CASES = {
    "login": Case(public=True),
    "logout": Case(public=True),
    "signup": Case(public=True),
    "signup_invited": Case(public=True, token=True),
    "home": Case(),
    "tenant_switch": Case(factory=lambda tenant, owner: tenant),
    "invitations": Case(writes=True, admin=True),
    "invitation_revoke": Case(factory=_invitation, writes=True, admin=True),
    "keys": Case(),
    "key_create": Case(writes=True),
    "key_rotate": Case(factory=_key, owned=True, writes=True),
    "key_revoke": Case(factory=_key, owned=True, writes=True),
    "catalogue": Case(),
    "playground": Case(),
    "usage": Case(),
}
