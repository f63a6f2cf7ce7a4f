"""The built-in `mock` provider: no network, deterministic, with fault injection.

Reply: "mock reply to: " + the first 40 characters of the last user message's text.
With tools and `tool_choice` other than "none" (and the last message not a tool
result, so agent loops end), it calls the forced tool, else the first tool, with
`{}` arguments.

Token counts (documented, so tests and demos can predict them):
  prompt_tokens     = whitespace-separated words in all message text, at least 1
  completion_tokens = words in the reply text, or 1 per tool call
  cached_tokens     = option `cached_tokens`, capped at prompt_tokens
  embeddings        = words in all inputs (token arrays count their length)

`target.options`:
  latency_ms         delay before the response / first chunk
  chunk_delay_ms     delay between stream chunks
  chunks             number of content chunks (default: one per word)
  error              HTTP status to fail with (e.g. 429, 500, 503), before any byte
  retry_after        seconds, reported with `error`
  fail_after_chunks  fail mid-stream after this many content chunks
  dimensions         embedding size when the request has none (default 8)
  cached_tokens      cached prompt tokens to report

Streams always end with a usage chunk, like every adapter's stream (the proxy asks
upstreams for it): `canonical.strip_usage` gives clients that did not set
`stream_options.include_usage` exactly what OpenAI would send them.
"""
from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from collections.abc import AsyncIterator

from ..canonical import Target, Usage, chunk, completion, embeddings_response, text_of, usage_chunk
from ..errors import ProviderError
from .base import classify
from .openai import OpenAIAdapter

__all__ = ["MockAdapter", "reply_text"]

_PREFIX = "mock reply to: "
_QUOTE_CHARS = 40  # enough to recognise the prompt in a demo, short enough to stay one line
_DEFAULT_DIMENSIONS = 8  # small: mock vectors only need to be stable, not useful


def _opt_ms(target: Target, name: str) -> float:
    value = target.options.get(name) or 0
    return max(float(value), 0.0) / 1000.0


def reply_text(canonical: dict) -> str:
    for message in reversed(canonical.get("messages") or []):
        if message.get("role") == "user":
            return _PREFIX + text_of(message.get("content"))[:_QUOTE_CHARS]
    return _PREFIX


def _tool_call(canonical: dict) -> dict | None:
    tools, choice = canonical.get("tools"), canonical.get("tool_choice", "auto")
    messages = canonical.get("messages") or []
    if not tools or choice == "none" or (messages and messages[-1].get("role") == "tool"):
        return None
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    name = name or (tools[0].get("function") or {}).get("name") or "tool"
    return {"id": "call_mock_" + hashlib.sha256(name.encode()).hexdigest()[:12], "type": "function",
            "function": {"name": name, "arguments": "{}"}}


def _usage(canonical: dict, target: Target, reply: str, call: dict | None) -> Usage:
    prompt = sum(len(text_of(m.get("content")).split()) for m in canonical.get("messages") or []) or 1
    cached = min(int(target.options.get("cached_tokens") or 0), prompt)
    return Usage(input_tokens=prompt, output_tokens=1 if call else len(reply.split()), cached_tokens=cached)


def _id(model: str, reply: str) -> str:
    return "chatcmpl-mock-" + hashlib.sha256(f"{model}\0{reply}".encode()).hexdigest()[:16]


def _injected(target: Target) -> ProviderError | None:
    status = target.options.get("error")
    if not status:
        return None
    retry_after = target.options.get("retry_after")
    return classify(int(status), f"mock: injected HTTP {status}", "mock_injected_error",
                    float(retry_after) if retry_after is not None else None)


def _pieces(text: str, count: object) -> list[str]:
    if not count:
        words = text.split(" ")
        return [p for p in [w + " " for w in words[:-1]] + [words[-1]] if p]
    n = max(int(count), 1)
    return [text[i * len(text) // n:(i + 1) * len(text) // n] for i in range(n)]


class MockAdapter(OpenAIAdapter):
    """Speaks canonical directly; the proxy awaits `complete`/`stream` since `local`."""

    local = True

    def __init__(self) -> None:
        super().__init__("mock", "mock://local")

    async def complete(self, canonical: dict, target: Target, *, endpoint: str = "chat") -> dict:
        await asyncio.sleep(_opt_ms(target, "latency_ms"))
        err = _injected(target)
        if err is not None:
            raise err
        if endpoint == "embeddings":
            return self.embed(canonical, target)
        model = target.model or canonical.get("model") or "mock"
        call = _tool_call(canonical)
        reply = "" if call else reply_text(canonical)
        message = {"role": "assistant", "content": None if call else reply}
        if call:
            message["tool_calls"] = [call]
        usage = _usage(canonical, target, reply, call)
        return completion(_id(model, reply), model, message, "tool_calls" if call else "stop", usage)

    async def stream(self, canonical: dict, target: Target) -> AsyncIterator[dict]:
        await asyncio.sleep(_opt_ms(target, "latency_ms"))
        err = _injected(target)
        if err is not None:
            raise err
        model = target.model or canonical.get("model") or "mock"
        call = _tool_call(canonical)
        reply = "" if call else reply_text(canonical)
        cid, created, delay = _id(model, reply), int(time.time()), _opt_ms(target, "chunk_delay_ms")
        fail_after = target.options.get("fail_after_chunks")
        yield chunk(cid, model, created, {"role": "assistant", "content": None if call else ""})
        deltas = [{"tool_calls": [{"index": 0, **call}]}] if call else [
            {"content": p} for p in _pieces(reply, target.options.get("chunks"))]
        for i, delta in enumerate(deltas):
            if fail_after is not None and i >= int(fail_after):
                raise ProviderError(502, "mock: injected mid-stream failure", code="mock_stream_failure")
            if delay:
                await asyncio.sleep(delay)
            yield chunk(cid, model, created, delta)
        yield chunk(cid, model, created, {}, "tool_calls" if call else "stop")
        yield usage_chunk(cid, model, created, _usage(canonical, target, reply, call))

    def embed(self, canonical: dict, target: Target) -> dict:
        raw = canonical.get("input")
        inputs = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else list(raw or [])
        texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in inputs]
        dims = int(canonical.get("dimensions") or target.options.get("dimensions") or _DEFAULT_DIMENSIONS)
        tokens = sum(len(t.split()) for t in texts)
        model = target.model or canonical.get("model") or "mock"
        return embeddings_response([_vector(t, dims) for t in texts], model, tokens,
                                   canonical.get("encoding_format"))


def _vector(text: str, dims: int) -> list[float]:
    """Unit-length pseudo-random vector seeded by the text: same text, same vector."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    vec = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]
