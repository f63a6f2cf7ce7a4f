"""Ingress wire formats: what clients send and receive (`openai`, `anthropic`)."""
from __future__ import annotations

import orjson

from ..errors import GatewayError

__all__ = ["ECHO_MAX", "INT32_MAX", "INT64", "echo", "load_json_object"]

# The most an integer parameter that counts something (tokens, dimensions, token ids) may be, in
# both ingress formats: 32-bit signed, as the ledger, the limiters and the upstreams count. orjson
# reads up to 2^64 - 1 (refusing 10^30 as invalid JSON), so without a bound 2^63 went upstream.
INT32_MAX = 2**31 - 1
# seed is a signed 64-bit integer in OpenAI's API.
INT64 = (-(2**63), 2**63 - 1)
# How much of a client's value an error message quotes: a route name has at most 100 characters;
# a 1 MB model name (or block type) was echoed whole, making every refusal as large as the request.
ECHO_MAX = 200


def echo(text: str) -> str:
    """`text` as an error message quotes it: at most ECHO_MAX characters, then "..."."""
    return text if len(text) <= ECHO_MAX else text[:ECHO_MAX] + "..."


def load_json_object(raw: bytes) -> dict:
    """The request body as a dict, or a 400 in the caller's envelope."""
    try:
        body = orjson.loads(raw)  # strict RFC 8259: no NaN, no lone surrogates, UTF-8 only
    except (ValueError, RecursionError):
        raise GatewayError(400, "invalid_json", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid_json", "request body must be a JSON object")
    return body
