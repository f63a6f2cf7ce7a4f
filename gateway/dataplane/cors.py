"""CORS for browser clients of the data plane: `CORS_ALLOWED_ORIGINS` (exact origins, or `*`).

Off by default: the data plane then neither looks at `Origin` nor answers preflights (an
`OPTIONS` is a 405, as before). On, a preflight from an allowed origin is answered here, and
every answer (JSON, stream or error, since they all leave through `ctx.send`) carries
`Access-Control-Allow-Origin` and exposes the gateway's own headers to the page's script.
Credentials (cookies) are never allowed: browser clients authenticate with their key header.
"""
from __future__ import annotations

from django.conf import settings

__all__ = ["enabled", "preflight", "with_cors"]

ALLOW_METHODS = b"GET, POST, HEAD, OPTIONS"
ALLOW_HEADERS = ("authorization", "x-api-key", "anthropic-version", "anthropic-beta", "content-type", "x-request-id")
# Requested headers allowed by prefix: the official JS SDKs send x-stainless-* (platform, retry
# count, timeout) and anthropic-dangerous-direct-browser-access from a browser.
ALLOW_PREFIXES = ("x-stainless-", "anthropic-", "openai-")
EXPOSE_NAMES = frozenset({b"x-request-id", b"retry-after"})
EXPOSE_PREFIXES = (b"x-switchyard-", b"x-ratelimit-")
# Seconds a browser may reuse a preflight's answer: Chromium's cap (Firefox allows a day).
MAX_AGE = b"7200"
ANY = "*"


def enabled() -> bool:
    return bool(settings.CORS_ALLOWED_ORIGINS)


def _origin(scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return value
    return None


def _allowed(origin: bytes | None) -> bytes | None:
    """The Access-Control-Allow-Origin value for this request's Origin, or None."""
    origins = settings.CORS_ALLOWED_ORIGINS
    if ANY in origins:
        return b"*"
    if origin is not None and origin.decode("latin-1") in origins:
        return origin
    return None


def _vary(allow: bytes | None, *more: bytes) -> list[tuple[bytes, bytes]]:
    # With exact origins the answer depends on Origin: caches must keep one per origin.
    names = [b"origin", *more] if allow != b"*" else list(more)
    return [(b"vary", b", ".join(names))] if names else []


def with_cors(scope, send):
    """`send`, adding this request's CORS headers to its response's head."""
    allow = _allowed(_origin(scope))

    async def send_with_cors(message):
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            headers += _vary(allow)
            if allow is not None:
                exposed = [name for name, _ in headers if name in EXPOSE_NAMES or name.startswith(EXPOSE_PREFIXES)]
                headers.append((b"access-control-allow-origin", allow))
                headers.append((b"access-control-expose-headers", b", ".join(dict.fromkeys(exposed))))
            message = {**message, "headers": headers}
        await send(message)

    return send_with_cors


def _requested_headers(scope) -> list[str]:
    for name, value in scope.get("headers", ()):
        if name == b"access-control-request-headers":
            return [h.strip().lower() for h in value.decode("latin-1").split(",") if h.strip()]
    return []


async def preflight(scope, send) -> None:
    """204 to an OPTIONS; with the allow headers only for an allowed origin (the browser refuses otherwise)."""
    allow = _allowed(_origin(scope))
    headers = _vary(allow, b"access-control-request-headers")
    if allow is not None:
        extra = [h for h in _requested_headers(scope) if h not in ALLOW_HEADERS and h.startswith(ALLOW_PREFIXES)]
        headers += [
            (b"access-control-allow-origin", allow),
            (b"access-control-allow-methods", ALLOW_METHODS),
            (b"access-control-allow-headers", ", ".join([*ALLOW_HEADERS, *extra]).encode("latin-1")),
            (b"access-control-max-age", MAX_AGE),
        ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
