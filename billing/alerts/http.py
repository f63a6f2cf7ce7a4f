"""Outbound alert webhooks: one guarded httpx call, no redirects, short timeouts.

The host is resolved here and the connection pinned to the checked address
(Host header and TLS SNI keep the name), so DNS rebinding between the check
and the connect cannot reach a private address (gateway/dataplane/netguard.py).
"""
from __future__ import annotations

import socket

import httpx
from django.conf import settings

from gateway.dataplane.netguard import is_forbidden, parse_cidrs
from gateway.pinned_http import pinned_send

# Alerts are small and the receiver only has to acknowledge them; a slow one is
# retried later rather than holding a Celery worker.
TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class DeliveryError(Exception):
    """A delivery failed; the message is safe to store (never the URL: it may hold a token)."""


def allowed_address(host: str, port: int) -> str:
    allow_private = settings.SSRF_ALLOW_PRIVATE
    cidrs = parse_cidrs(settings.SSRF_ALLOW_CIDRS)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise DeliveryError("the host name does not resolve") from None
    for info in infos:
        address = info[4][0]
        if not is_forbidden(address, allow_private, cidrs):
            return address
    raise DeliveryError("the host resolves only to forbidden (private or special) addresses")


def post_json(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body`; returns the status code, raises DeliveryError unless it is 2xx.

    Pinned to the checked address through gateway.pinned_http (no Client: no URL
    logged, no proxy variables, no redirects).
    """
    target = httpx.URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        raise DeliveryError("the URL must be http(s) with a host")
    address = allowed_address(target.host, target.port or (443 if target.scheme == "https" else 80))
    try:
        response = pinned_send("POST", target, address, {**headers, "content-type": "application/json"}, TIMEOUT,
                               content=body, read=False)  # the body is never read: a receiver only acknowledges
    except httpx.TimeoutException:
        raise DeliveryError("the receiver did not answer in time") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"connection failed ({type(exc).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"the receiver answered HTTP {response.status_code}")
    return response.status_code

