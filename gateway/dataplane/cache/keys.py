"""What identifies a cached answer: the exact key and the semantic scope.

The key hashes the tenant, the route (and its targets, so re-pointing a route
at another model starts afresh), the endpoint and the normalised canonical
request. Ingress is deliberately not part of it: an OpenAI-format and an
Anthropic-format request that translate to the same canonical request share
an entry, since answers are stored canonical and rendered per ingress on a
hit. Anthropic fields the canonical form cannot carry (top_k, thinking, ...)
are added to the key, so such requests never share with ones without them.
"""
from __future__ import annotations

import hashlib

from gateway.dataplane.canonical import text_of
from gateway.dataplane.fastjson import dumps_sorted

KEY_PREFIX = "sy:cache:"
# Fields that do not change the answer: who asked, how it is delivered, bookkeeping.
IGNORED = frozenset({"user", "stream", "stream_options", "metadata", "store", "prompt_cache_key",
                     "safety_identifier"})
# Anthropic request fields the canonical form already expresses.
ANTHROPIC_MAPPED = frozenset({"model", "messages", "system", "max_tokens", "stop_sequences", "temperature", "top_p",
                              "tools", "tool_choice", "stream", "metadata"})
# Asked-for details a replay would not reproduce.
UNREPLAYABLE = ("logprobs", "top_logprobs")


def _hash(obj) -> str:
    return hashlib.sha256(dumps_sorted(obj)).hexdigest()


def material(ctx) -> dict:
    """The request as the cache sees it: canonical, minus fields that do not change the answer."""
    body = {k: v for k, v in (ctx.canonical or {}).items() if k not in IGNORED and v is not None}
    if "max_completion_tokens" in body and "max_tokens" not in body:
        body["max_tokens"] = body.pop("max_completion_tokens")  # the same limit under its newer name
    if ctx.ingress == "anthropic" and ctx.body:
        extras = {k: v for k, v in ctx.body.items() if k not in ANTHROPIC_MAPPED}
        if extras:
            body["anthropic_extras"] = extras
    return body


def replayable(body: dict) -> bool:
    return not any(body.get(name) for name in UNREPLAYABLE)


def _scope(ctx) -> list:
    route = ctx.route
    targets = sorted((t.provider.id, t.model) for t in route.targets)
    # Steps that transform requests before us (e.g. redaction) record how in cache_vary.
    return [ctx.key.tenant_id, route.id, ctx.endpoint, targets, ctx.state.get("cache_vary")]


def exact_key(ctx, body: dict) -> str:
    """Tenant and route stay readable in the key, for operators scanning one route's entries."""
    return f"{KEY_PREFIX}{ctx.key.tenant_id}:{ctx.route.id}:{_hash([*_scope(ctx), body])}"


def semantic_parts(body: dict, max_temperature: float) -> tuple[str, str] | None:
    """(text to embed, hash of everything else) or None when the request must skip the semantic cache.

    Only the last user message is compared by meaning; the rest of the conversation,
    the model and the sampling parameters must match exactly (they are in the hash).
    """
    if body.get("tools") or body.get("functions") or (body.get("n") or 1) > 1:
        return None
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and temperature > max_temperature:
        return None
    messages = body.get("messages") or []
    if not messages or any(m.get("role") in ("tool", "function") or m.get("tool_calls") for m in messages):
        return None
    last = messages[-1]
    text = _plain_text(last.get("content")) if last.get("role") == "user" else None
    if not text:
        return None
    return text, _hash({**body, "messages": messages[:-1]})


def semantic_scope(ctx, context_hash: str, embedder: str) -> str:
    return _hash([*_scope(ctx), context_hash, embedder])


def _plain_text(content) -> str | None:
    """The text of a message that holds nothing but text (images and files cannot be compared)."""
    if isinstance(content, list) and any(not isinstance(p, dict) or p.get("type") != "text" for p in content):
        return None
    return text_of(content).strip() or None
