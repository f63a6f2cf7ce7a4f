"""Webhook signatures, Stripe-style: `x-switchyard-signature: t=<unix>,v1=<hex>`.

v1 = HMAC-SHA256(secret, f"{t}." + raw body). Signing the timestamp with the
body lets a receiver refuse replays older than its tolerance.
"""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "x-switchyard-signature"
# How old a signature a receiver should accept (clock skew plus delivery time).
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> str:
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, body: bytes, header: str, now: float | None = None, tolerance=TOLERANCE_SECONDS) -> bool:
    """What a receiver does (documented in the README); also used by the tests."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), parts.get("v1", ""))
