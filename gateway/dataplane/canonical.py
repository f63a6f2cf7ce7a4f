"""The canonical format: OpenAI Chat Completions / Embeddings, as plain dicts.

Requests, `chat.completion` responses and `chat.completion.chunk` stream items
stay dicts (no model classes) so pass-through costs nothing. This module holds
the few typed records around them and small builders shared by the adapters.
"""
from __future__ import annotations

import base64
import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Target",
    "Timeouts",
    "UpstreamRequest",
    "Usage",
    "chunk",
    "client_wants_usage",
    "completion",
    "dumps",
    "embeddings_response",
    "is_usage_chunk",
    "loads",
    "parse_data_url",
    "strip_usage",
    "text_of",
    "usage_chunk",
    "usage_dict",
    "usage_from_dict",
]


@dataclass(slots=True, frozen=True)
class Timeouts:
    # STYLE.md's safe defaults: 5 s to connect, 60 s to the first byte, 30 s between bytes.
    connect: float = 5.0
    first_byte: float = 60.0
    idle: float = 30.0


@dataclass(slots=True, frozen=True)
class Target:
    """One provider deployment chosen by the balancer, taken from the snapshot."""

    provider_kind: str
    base_url: str = ""
    api_key: str = ""
    model: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    timeouts: Timeouts = Timeouts()


@dataclass(slots=True, frozen=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    stream: bool = False


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0  # all prompt tokens, cached ones included (OpenAI's prompt_tokens)
    output_tokens: int = 0  # reasoning tokens included (OpenAI's completion_tokens)
    cached_tokens: int = 0  # prompt tokens read from the provider's cache
    reasoning_tokens: int = 0
    estimated: bool = False  # counted by the gateway, not reported by the provider
    cache_write_tokens: int = 0  # Anthropic bills cache writes at a premium, so keep them apart
    provider_cost: str | None = None  # USD the provider says it billed (OpenRouter's usage.cost), as sent


def dumps(obj: object) -> bytes:
    # ASCII output: lone surrogates from client JSON cannot break the encode.
    return json.dumps(obj, separators=(",", ":")).encode()


loads = json.loads


def text_of(content: object) -> str:
    """The text of an OpenAI message `content`: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Only string texts: ingress checks the parts it translates, not every field of every part.
        return "".join(p["text"] for p in content
                       if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str))
    return ""


def parse_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL, else None."""
    head, sep, data = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        return None
    return head[5:-7] or "application/octet-stream", data


def completion(
    id: str,
    model: str,
    message: dict,
    finish_reason: str | None,
    usage: Usage | None = None,
    created: int | None = None,
) -> dict:
    out = {
        "id": id,
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not None:
        out["usage"] = usage_dict(usage)
    return out


def chunk(id: str, model: str, created: int, delta: dict, finish_reason: str | None = None) -> dict:
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def usage_chunk(id: str, model: str, created: int, usage: Usage) -> dict:
    """OpenAI's `include_usage` shape: the last chunk, no choices."""
    return {
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_dict(usage),
    }


def usage_dict(u: Usage) -> dict:
    out = {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }
    if u.cache_write_tokens:
        # Not an OpenAI field; OpenAI clients ignore it and the Anthropic ingress needs it back.
        out["prompt_tokens_details"]["cache_write_tokens"] = u.cache_write_tokens
    return out


# What a reported provider cost may be: below the ledger's decimal(20, 12) bound of 10^8 USD
# (a larger one made the usage event unwritable; it is an upstream's error, not a cost).
PROVIDER_COST_MAX = 10**8


def _int(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def usage_from_dict(u: object) -> Usage | None:
    """Usage from an OpenAI `usage` object (chat or embeddings); None if absent."""
    if not isinstance(u, dict):
        return None
    pd = u.get("prompt_tokens_details")
    cd = u.get("completion_tokens_details")
    pd = pd if isinstance(pd, dict) else {}
    cd = cd if isinstance(cd, dict) else {}
    return Usage(
        input_tokens=_int(u.get("prompt_tokens")),
        output_tokens=_int(u.get("completion_tokens")),
        # DeepSeek reports cache hits as a top-level field instead of the details object.
        cached_tokens=_int(pd.get("cached_tokens")) or _int(u.get("prompt_cache_hit_tokens")),
        reasoning_tokens=_int(cd.get("reasoning_tokens")),
        cache_write_tokens=_int(pd.get("cache_write_tokens")),
        provider_cost=_cost(u.get("cost")),
    )


def _cost(value: object) -> str | None:
    # A JSON number as text (exact in the ledger's decimal column); anything else is not a cost.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < PROVIDER_COST_MAX:
        return None
    return repr(value)


def client_wants_usage(request: dict) -> bool:
    """Did the client ask for the final usage chunk (`stream_options.include_usage`)?

    Adapters always make the upstream send it so usage can be recorded; the proxy
    drops it (see `strip_usage`) when this is False, as OpenAI itself would.
    """
    opts = request.get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


def is_usage_chunk(c: dict) -> bool:
    return not c.get("choices") and c.get("usage") is not None


def strip_usage(c: dict) -> dict | None:
    """The chunk as a client without `include_usage` should see it: None for the usage chunk."""
    if is_usage_chunk(c):
        return None
    c.pop("usage", None)
    return c


def embeddings_response(vectors: list[list[float]], model: str, prompt_tokens: int,
                        encoding_format: str | None) -> dict:
    """An OpenAI embeddings response; base64 is little-endian float32, as the SDKs decode it."""
    data = []
    for i, vec in enumerate(vectors):
        emb: list[float] | str = vec
        if encoding_format == "base64":
            emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": emb})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
