"""Who the client is: the TCP peer, unless the peer is one of our configured TRUSTED_PROXIES.

uvicorn runs with --no-proxy-headers (gateway/http_protocol.py), so REMOTE_ADDR is always the
peer and X-Forwarded-* headers arrive untouched. They are believed only from a peer inside
TRUSTED_PROXIES (CIDRs, empty by default), never because the peer is on loopback.
"""
import ipaddress
from functools import lru_cache

from django.conf import settings

from gateway.dataplane.netguard import parse_cidrs

FORWARDED_PROTO = "HTTP_X_FORWARDED_PROTO"
# An X-Forwarded-For entry is an address; anything longer is junk, not worth a cache key.
MAX_ADDRESS_CHARS = 64


@lru_cache(maxsize=8)  # settings change only in tests (override_settings); a handful of values
def _networks(cidrs):
    return parse_cidrs(cidrs)


def is_trusted_proxy(address):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def client_ip(request):
    """REMOTE_ADDR, or behind trusted proxies the right-most X-Forwarded-For entry that is not one.

    Right-most: each proxy appends the address it saw, so entries left of the first untrusted
    hop were written by the client and prove nothing.
    """
    peer = request.META.get("REMOTE_ADDR") or "unknown"
    if not is_trusted_proxy(peer):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted_proxy(hop):
            return hop[:MAX_ADDRESS_CHARS]
    return hops[0][:MAX_ADDRESS_CHARS] if hops else peer


class TrustedProxyMiddleware:
    """Drops X-Forwarded-Proto unless a trusted proxy sent it, so SECURE_PROXY_SSL_HEADER
    (set only with TRUSTED_PROXIES) cannot be spoofed by a client that reaches us directly."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if FORWARDED_PROTO in request.META and not is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            del request.META[FORWARDED_PROTO]
        return self.get_response(request)
