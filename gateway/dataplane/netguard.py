"""SSRF guard for upstream connections, applied at connect time (RELIABILITY.md B11).

Validating a base URL when it is saved is not enough (DNS rebinding): the
resolver below refuses private, loopback, link-local and other special
addresses on every connection unless SSRF_ALLOW_PRIVATE is set or the address
is inside SSRF_ALLOW_CIDRS.
"""
from __future__ import annotations

import ipaddress
import logging

from aiohttp.resolver import DefaultResolver

log = logging.getLogger("switchyard.ssrf")


class BlockedAddress(Exception):
    """The upstream resolves to an address this gateway may not call."""


def parse_cidrs(values):
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def is_forbidden(address: str, allow_private: bool, allow_cidrs=()) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return True  # not an address we can reason about: refuse
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in net for net in allow_cidrs):
        return False
    if allow_private:
        return False
    return not ip.is_global or ip.is_multicast


class GuardedResolver(DefaultResolver):
    """Resolves as usual, then drops every forbidden address."""

    def __init__(self, allow_private: bool, allow_cidrs=()):
        super().__init__()
        self.allow_private = allow_private
        self.allow_cidrs = allow_cidrs

    async def resolve(self, host, port=0, family=0):
        results = await super().resolve(host, port, family)
        allowed = [r for r in results if not is_forbidden(r["host"], self.allow_private, self.allow_cidrs)]
        if not allowed:
            log.warning("upstream connection refused: %s resolves only to forbidden addresses", host)
            raise BlockedAddress(f"upstream host {host} resolves to a forbidden address")
        return allowed


def check_literal_host(host: str, allow_private: bool, allow_cidrs=()):
    """aiohttp skips the resolver for IP literals, so they are checked here."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: the resolver checks it
    if is_forbidden(host, allow_private, allow_cidrs):
        log.warning("upstream connection refused: %s is a forbidden address", host)
        raise BlockedAddress(f"upstream address {host} is forbidden")
