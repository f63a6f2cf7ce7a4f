"""Ingress wire formats: what clients send and receive (`openai`, `anthropic`)."""
from __future__ import annotations

import orjson

from ..errors import GatewayError

__all__ = ["INT32_MAX", "INT64", "load_json_object"]

# The most an integer parameter that counts something (tokens, dimensions, token ids) may be, in
# both ingress formats: 32-bit signed, as the ledger, the limiters and the upstreams count. orjson
# reads up to 2^64 - 1 (refusing 10^30 as invalid JSON), so without a bound 2^63 went upstream.
INT32_MAX = 2**31 - 1
# seed is a signed 64-bit integer in OpenAI's API.
INT64 = (-(2**63), 2**63 - 1)


def load_json_object(raw: bytes) -> dict:
    """The request body as a dict, or a 400 in the caller's envelope."""
    try:
        body = orjson.loads(raw)  # strict RFC 8259: no NaN, no lone surrogates, UTF-8 only
    except (ValueError, RecursionError):
        raise GatewayError(400, "invalid_json", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid_json", "request body must be a JSON object")
    return body
