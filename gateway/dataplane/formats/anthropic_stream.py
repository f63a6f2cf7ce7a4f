"""Canonical chunks -> Anthropic Messages SSE events, incrementally.

Emits what the official SDKs' stream accumulators expect: message_start, then per
content block content_block_start / *_delta / content_block_stop (text, or
tool_use with input_json_delta), then message_delta (stop_reason, usage) and
message_stop. Usage arrives last in canonical streams, so input_tokens in
message_start is only an estimate and message_delta carries the real totals
(the SDKs overwrite message_start's values with them).
"""
from __future__ import annotations

import json

from ..canonical import Usage, usage_from_dict
from ..errors import GatewayError, sse_error_event
from .anthropic import STOP_REASONS, anthropic_usage_dict, message_id

__all__ = ["PING", "AnthropicEventEncoder"]

PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def _event(kind: str, payload: dict) -> bytes:
    payload = {"type": kind, **payload}
    return b"event: " + kind.encode() + b"\ndata: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class AnthropicEventEncoder:
    """One per stream: `feed(chunk)` and `close()` return SSE bytes to send."""

    def __init__(self, model: str, message_id: str | None = None, input_tokens: int = 0) -> None:
        self._model = model
        self._id = message_id
        self._input = input_tokens  # estimate for message_start; the real count comes at the end
        self._started = self._closed = False
        self._open: int | None = None  # index of the content block currently open
        self._open_is_text = False
        self._next = 0  # next content block index
        self._tools: dict[int, int] = {}  # OpenAI tool_calls index -> content block index
        self._finish: str | None = None
        self._usage: Usage | None = None

    def feed(self, chunk: dict) -> bytes:
        if self._closed:
            return b""
        out: list[bytes] = []
        if not self._started:
            self._start(chunk.get("id"), out)
        if chunk.get("usage"):
            self._usage = usage_from_dict(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # Anthropic messages have a single choice
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self._text(delta["content"], out)
            for call in delta.get("tool_calls") or ():
                self._tool(call, out)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
        return b"".join(out)

    def close(self) -> bytes:
        """Finish the message; call once the canonical stream has ended."""
        if self._closed:
            return b""
        out: list[bytes] = []
        if not self._started:
            self._start(None, out)
        self._close_block(out)
        usage = anthropic_usage_dict(self._usage)
        delta = {"stop_reason": STOP_REASONS.get(self._finish, "end_turn"), "stop_sequence": None}
        out.append(_event("message_delta", {"delta": delta, "usage": usage}))
        out.append(_event("message_stop", {}))
        self._closed = True
        return b"".join(out)

    def error(self, err: GatewayError) -> bytes:
        """A failure after the first byte: Anthropic's `event: error`, ending the stream."""
        self._closed = True
        return sse_error_event(err, "anthropic")

    def _start(self, chunk_id: object, out: list[bytes]) -> None:
        self._started = True
        message = {
            "id": self._id or message_id(chunk_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input, "output_tokens": 0},
        }
        out.append(_event("message_start", {"message": message}))

    def _open_block(self, block: dict, out: list[bytes]) -> int:
        self._close_block(out)
        index, self._open = self._next, self._next
        self._open_is_text = block["type"] == "text"
        self._next += 1
        out.append(_event("content_block_start", {"index": index, "content_block": block}))
        return index

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(_event("content_block_stop", {"index": self._open}))
            self._open = None
            self._open_is_text = False

    def _text(self, text: str, out: list[bytes]) -> None:
        if not self._open_is_text:
            self._open_block({"type": "text", "text": ""}, out)
        out.append(_event("content_block_delta", {"index": self._open, "delta": {"type": "text_delta", "text": text}}))

    def _tool(self, call: dict, out: list[bytes]) -> None:
        position = call.get("index", 0)
        fn = call.get("function") or {}
        if position not in self._tools:
            block = {"type": "tool_use", "id": call.get("id") or f"toolu_{position}", "name": fn.get("name") or "",
                     "input": {}}
            self._tools[position] = self._open_block(block, out)
        arguments = fn.get("arguments")
        if arguments:
            # Interleaved deltas of an earlier call still name that call's block; the SDKs index by it.
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out.append(_event("content_block_delta", {"index": self._tools[position], "delta": delta}))
