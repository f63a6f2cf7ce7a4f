"""SSRF guard for upstream connections, applied at connect time (RELIABILITY.md B11).

Validating a base URL when it is saved is not enough (DNS rebinding): the
resolver below refuses private, loopback, link-local and other special
addresses on every connection unless SSRF_ALLOW_PRIVATE is set or the address
is inside SSRF_ALLOW_CIDRS. Cloud metadata endpoints (credentials for the host's
cloud role) stay refused under SSRF_ALLOW_PRIVATE: only a network listed in
SSRF_ALLOW_CIDRS that contains one lets it through.
"""
from __future__ import annotations

import ipaddress
import logging
import socket

from aiohttp.resolver import DefaultResolver

log = logging.getLogger("switchyard.ssrf")

# Instance-metadata services: AWS/GCP/Azure/OpenStack (169.254.169.254), AWS over IPv6
# (fd00:ec2::254), AWS ECS task credentials (169.254.170.2), Alibaba Cloud (100.100.100.200).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
# What a refusal tells the operator to change (the error, the console and apply_config name it).
HOW_TO_ALLOW = "allow it with SSRF_ALLOW_CIDRS (that network) or SSRF_ALLOW_PRIVATE=1"
HOW_TO_ALLOW_METADATA = "a cloud metadata address: allowed only by listing it in SSRF_ALLOW_CIDRS"


class BlockedAddress(Exception):
    """The upstream resolves to an address this gateway may not call."""


class Unresolvable(Exception):
    """The name does not resolve here (it is checked again at connect time)."""


def parse_cidrs(values):
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def ip_of(text: str):
    """The IP address `text` (bracketed or not) spells, IPv4-mapped ones as IPv4; None for a name."""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def is_forbidden(address: str, allow_private: bool, allow_cidrs=()) -> bool:
    ip = ip_of(address)
    if ip is None:
        return True  # not an address we can reason about: refuse
    if any(ip in net for net in allow_cidrs):
        return False
    if allow_private:
        return ip in METADATA_ADDRESSES
    return not ip.is_global or ip.is_multicast


def how_to_allow(address: str) -> str:
    """The setting that would let `address` through, for error messages."""
    return HOW_TO_ALLOW_METADATA if ip_of(address) in METADATA_ADDRESSES else HOW_TO_ALLOW


def resolve_checked(host: str, allow_private: bool, allow_cidrs=()):
    """Every address `host` resolves to, if all are allowed; raises BlockedAddress naming the
    setting otherwise (control-plane callers: save-time checks and the provider test)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
    except (OSError, UnicodeError) as exc:  # UnicodeError: a label IDNA cannot encode (> 63 chars)
        raise Unresolvable(f"cannot resolve {host}") from exc
    for address in addresses:
        if is_forbidden(address, allow_private, allow_cidrs):
            shown = host if address == host.strip("[]") else f"{host} ({address})"
            raise BlockedAddress(f"{shown} is a private or reserved address: {how_to_allow(address)}")
    return addresses


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
            hint = how_to_allow(results[0]["host"]) if results else HOW_TO_ALLOW
            raise BlockedAddress(f"upstream host {host} resolves to a forbidden address ({hint})")
        return allowed


def check_literal_host(host: str, allow_private: bool, allow_cidrs=()):
    """aiohttp skips the resolver for IP literals, so they are checked here."""
    if ip_of(host) is None:
        return  # a name: the resolver checks it
    if is_forbidden(host, allow_private, allow_cidrs):
        log.warning("upstream connection refused: %s is a forbidden address", host)
        raise BlockedAddress(f"upstream address {host} is forbidden ({how_to_allow(host)})")
