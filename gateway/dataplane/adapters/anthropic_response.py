"""Anthropic Messages responses and streams -> canonical (OpenAI) dicts."""
from __future__ import annotations

import json
import time

from ..canonical import Usage, chunk, completion, usage_chunk
from ..errors import ProviderError
from ..sse import SSEEvent
from .base import SSEStreamParser, UsageTap, classify

__all__ = ["FINISH_REASONS", "AnthropicStreamParser", "AnthropicUsageTap", "anthropic_usage", "from_anthropic"]

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Error `type` of a mid-stream error event -> the HTTP status it stands for.
_STREAM_ERROR_STATUS = {
    "overloaded_error": 529,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "invalid_request_error": 400,
    "request_too_large": 413,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
}


def _n(v: object) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def anthropic_usage(u: object) -> Usage | None:
    """Anthropic's input_tokens exclude cache reads and writes; canonical input counts all."""
    if not isinstance(u, dict):
        return None
    read, write = _n(u.get("cache_read_input_tokens")), _n(u.get("cache_creation_input_tokens"))
    return Usage(
        input_tokens=_n(u.get("input_tokens")) + read + write,
        output_tokens=_n(u.get("output_tokens")),
        cached_tokens=read,
        cache_write_tokens=write,
    )


def _arguments(value: object) -> str:
    return json.dumps(value if value is not None else {}, ensure_ascii=False, separators=(",", ":"))


def from_anthropic(obj: dict) -> dict:
    texts, calls = [], []
    for block in obj.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use":
            fn = {"name": block["name"], "arguments": _arguments(block.get("input"))}
            calls.append({"id": block["id"], "type": "function", "function": fn})
        # thinking / server-tool blocks have no Chat Completions equivalent and are left out
    message: dict = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    finish = FINISH_REASONS.get(obj.get("stop_reason"), "stop")
    return completion(obj.get("id") or "", obj.get("model") or "", message, finish, anthropic_usage(obj.get("usage")))


def stream_error(err: object) -> ProviderError:
    err = err if isinstance(err, dict) else {}
    kind = err.get("type") if isinstance(err.get("type"), str) else "api_error"
    message = err.get("message") if isinstance(err.get("message"), str) else "upstream stream error"
    return classify(_STREAM_ERROR_STATUS.get(kind, 500), message[:500], kind, None)


_HANDLERS = {
    kind: "_on_" + kind
    for kind in ("message_start", "content_block_start", "content_block_delta", "message_delta", "message_stop", "error")
}


class AnthropicStreamParser(SSEStreamParser):
    """message_start / content_block_* / message_delta / message_stop -> chunks.

    Tool calls get OpenAI indexes in order of appearance; Anthropic's block index
    counts text blocks too, so the two are mapped.
    """

    def __init__(self) -> None:
        super().__init__()
        self._id, self._model, self._created = "", "", 0
        self._usage: dict = {}
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self._started = self._finished = False

    def _chunk(self, delta: dict, finish: str | None = None) -> dict:
        return chunk(self._id, self._model, self._created, delta, finish)

    def on_event(self, ev: SSEEvent, out: list[dict]) -> None:
        if not ev.data:
            return
        obj = json.loads(ev.data)
        name = _HANDLERS.get(obj.get("type") or ev.event)  # ping and unknown future events are skipped
        if name is not None:
            getattr(self, name)(obj, out)

    def _on_message_start(self, obj: dict, out: list[dict]) -> None:
        msg = obj["message"]
        self._id, self._model = str(msg.get("id") or ""), str(msg.get("model") or "")
        self._created = int(time.time())
        self._usage.update(msg.get("usage") or {})
        self._started = True
        out.append(self._chunk({"role": "assistant", "content": ""}))

    def _on_content_block_start(self, obj: dict, out: list[dict]) -> None:
        block = obj["content_block"]
        if block.get("type") == "tool_use":
            index = self._tools[obj["index"]] = len(self._tools)
            call = {"index": index, "id": block["id"], "type": "function",
                    "function": {"name": block["name"], "arguments": ""}}
            out.append(self._chunk({"tool_calls": [call]}))
        elif block.get("type") == "text" and block.get("text"):
            out.append(self._chunk({"content": block["text"]}))

    def _on_content_block_delta(self, obj: dict, out: list[dict]) -> None:
        delta = obj["delta"]
        kind = delta.get("type")
        if kind == "text_delta":
            out.append(self._chunk({"content": delta["text"]}))
        elif kind == "input_json_delta" and delta.get("partial_json"):
            index = self._tools.get(obj["index"])
            if index is None:
                return  # input of a server tool (e.g. web search): the provider runs it, the client never sees it
            call = {"index": index, "function": {"arguments": delta["partial_json"]}}
            out.append(self._chunk({"tool_calls": [call]}))

    def _on_message_delta(self, obj: dict, out: list[dict]) -> None:
        # message_delta usage holds running totals: they overwrite, not add.
        self._usage.update({k: v for k, v in (obj.get("usage") or {}).items() if v is not None})
        reason = (obj.get("delta") or {}).get("stop_reason")
        if reason:
            out.append(self._chunk({}, FINISH_REASONS.get(reason, "stop")))

    def _on_message_stop(self, obj: dict, out: list[dict]) -> None:
        self._flush_usage(out)

    def _on_error(self, obj: dict, out: list[dict]) -> None:
        raise stream_error(obj.get("error"))

    def on_close(self, out: list[dict]) -> None:
        self._flush_usage(out)  # a cut stream still bills what it produced

    def _flush_usage(self, out: list[dict]) -> None:
        if self._started and not self._finished:
            self._finished = True
            usage = anthropic_usage(self._usage) if self._usage else None
            if usage is not None:  # none reported: no chunk, so the proxy estimates instead of billing zero
                out.append(usage_chunk(self._id, self._model, self._created, usage))


class AnthropicUsageTap(UsageTap):
    """Usage of a passed-through Anthropic stream: message_start, then message_delta totals."""

    def __init__(self) -> None:
        super().__init__()
        self._raw: dict = {}

    def _read(self, ev: SSEEvent) -> None:
        if ev.event == "message_start":
            self._raw.update(json.loads(ev.data)["message"].get("usage") or {})
        elif ev.event == "message_delta":
            self._raw.update({k: v for k, v in (json.loads(ev.data).get("usage") or {}).items() if v is not None})
        else:
            return
        self.usage = anthropic_usage(self._raw)
