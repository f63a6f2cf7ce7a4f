"""Step: authenticate the Switchyard key against the snapshot (no database)."""
from __future__ import annotations

import time

from gateway import keyhash
from gateway.dataplane.errors import GatewayError


# Factories, not shared instances: raising one exception object again appends each raise's
# frames to its __traceback__, which then keeps every refused request (context, body) alive.
def missing_key() -> GatewayError:
    return GatewayError(401, "missing_api_key", "Missing API key: send 'Authorization: Bearer sy-...'.")


def invalid_key() -> GatewayError:
    return GatewayError(401, "invalid_api_key", "Invalid, revoked or expired API key.")


def presented_secret(headers: dict[str, str]) -> str | None:
    """The key from `Authorization: Bearer` (OpenAI SDK) or `x-api-key` (Anthropic SDK)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value:
            return value.strip()
    return headers.get("x-api-key") or None


def find_key(snapshot, secret: str, now: float):
    """The usable key this secret belongs to; one constant-time compare per prefix candidate."""
    if not keyhash.looks_like_key(secret):
        return None
    for key in snapshot.keys_by_prefix.get(keyhash.lookup_prefix(secret), ()):
        if keyhash.secret_matches(secret, key.secret_hash) and (key.expires_at is None or key.expires_at > now):
            return key
    return None


async def authenticate(ctx, next_step):
    secret = presented_secret(ctx.headers)
    if secret is None:
        raise missing_key()
    key = find_key(ctx.snapshot, secret, time.time())
    if key is None:
        raise invalid_key()
    ctx.key = key
    await next_step(ctx)
