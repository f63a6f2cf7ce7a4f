"""Ingress wire formats: what clients send and receive (`openai`, `anthropic`)."""
from __future__ import annotations

import orjson

from ..errors import GatewayError

__all__ = ["load_json_object"]


def load_json_object(raw: bytes) -> dict:
    """The request body as a dict, or a 400 in the caller's envelope."""
    try:
        body = orjson.loads(raw)  # strict RFC 8259: no NaN, no lone surrogates, UTF-8 only
    except (ValueError, RecursionError):
        raise GatewayError(400, "invalid_json", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "invalid_json", "request body must be a JSON object")
    return body
